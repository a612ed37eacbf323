"""The native TensorRT engine runner (the `tensorrt` Python API), behind the `wattfleet[tensorrt]` extra.

Fixed-shape models only (decoders run through ONNX Runtime's TensorRT provider). The engine is built from
the ONNX file once and cached with its timing cache under a folder keyed like the TensorRT EP's (model
sha256, TensorRT version, GPU name, precision), so a stale engine is never loaded. Device memory comes from
ONNX Runtime's CUDA allocator (`OrtValue` on "cuda"), which the agent extra already installs, so no other
CUDA binding is needed. Untested on hardware in CI: hosts there have no GPU.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import onnx

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.models.cache import default_cache_dir
from wattfleet.agent.workloads.runners.base import (
    ColdStart,
    ResolvedModel,
    base_environment,
    device_name,
)
from wattfleet.agent.workloads.runners.fixed import FixedInputs, InputSpec
from wattfleet.agent.workloads.runners.ort_session import trt_cache_key
from wattfleet.agent.workloads.runners.resolve import resolve_model
from wattfleet.core.errors import ConfigError, UsageError

INSTALL_HINT = ("install it with `pip install 'wattfleet[tensorrt]'` on a host with an NVIDIA GPU and its "
                "drivers, or use provider 'tensorrt' (ONNX Runtime's TensorRT execution provider)")
_ONNX_TO_NP = {1: np.float32, 10: np.float16, 11: np.float64, 7: np.int64, 6: np.int32, 3: np.int8,
               2: np.uint8, 9: np.bool_}
MAX_BATCH_DIM = "max_batch"  # model.dims key: the largest batch a dynamic-batch engine accepts (default 8)


def import_tensorrt() -> ModuleType:
    """`tensorrt`, imported only when a native run asks for it."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError as exc:
        raise UsageError(f"provider 'tensorrt-native' needs NVIDIA's TensorRT Python package, which is not "
                         f"installed here ({exc}); {INSTALL_HINT}") from exc


def onnx_input_specs(path: Path) -> list[InputSpec]:
    """Graph inputs (not initializers) with their declared shapes and numpy dtypes."""
    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    specs = []
    for value in graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        if tensor.elem_type not in _ONNX_TO_NP:
            raise UsageError(f"{path}: input {value.name!r} has ONNX element type {tensor.elem_type}, which "
                             "wattfleet cannot generate")
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim)
        specs.append(InputSpec(value.name, shape, _ONNX_TO_NP[tensor.elem_type]))
    return specs


def engine_path(cache_root: Path, model: ResolvedModel, trt_version: str, gpu: str, precision: str) -> Path:
    key = trt_cache_key(model.sha256, "native", trt_version, gpu, precision)
    return cache_root / "tensorrt-native" / key / "model.engine"


class NativeTrtRunner:
    kind = "fixed"

    def __init__(self, trt: ModuleType, model: ResolvedModel, runtime: RuntimeConfig, dims: dict[str, int],
                 engine_file: Path) -> None:
        self.trt = trt
        self.model = model
        self.runtime = runtime
        self.provider_used = "tensorrt-native"
        self.cold_start = ColdStart(0.0, 0.0, 0.0)
        self.engine_file = engine_file
        self.engine_cache_hit = False
        self.notes: dict[str, Any] = {}  # what opening it for a profile decided (runners.for_profile)
        self.inputs = FixedInputs(onnx_input_specs(model.path), dims, model.path)
        self.max_batch = int(dims.get(MAX_BATCH_DIM, 8))
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._engine: Any = None
        self._local = threading.local()
        self._device_inputs: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- building -----------------------------------------------------------------------------------
    def _build(self) -> bytes:
        trt = self.trt
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse_from_file(str(self.model.path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ConfigError(f"TensorRT could not parse {self.model.path}: {errors}")
        config = builder.create_builder_config()
        if self.runtime.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if self.runtime.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)  # scales from the model's QDQ nodes
        timing_file = self.engine_file.with_name("timing.cache")
        timing = config.create_timing_cache(timing_file.read_bytes() if timing_file.is_file() else b"")
        config.set_timing_cache(timing, ignore_mismatch=False)
        profile = None
        for index in range(network.num_inputs):
            tensor = network.get_input(index)
            if -1 not in tuple(tensor.shape):
                continue
            spec = next(s for s in self.inputs.specs if s.name == tensor.name)
            low = self._shape(spec, 1)
            high = self._shape(spec, self.max_batch)
            profile = profile or builder.create_optimization_profile()
            profile.set_shape(tensor.name, low, high, high)
        if profile is not None:
            config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ConfigError(f"TensorRT failed to build an engine for {self.model.path} "
                              f"(precision {self.runtime.precision}); its log above says why")
        timing_file.write_bytes(bytes(config.get_timing_cache().serialize()))
        return bytes(serialized)

    def _shape(self, spec: InputSpec, batch: int) -> tuple[int, ...]:
        from wattfleet.agent.workloads.runners.fixed import bind_shape

        return bind_shape(spec, batch, self.inputs.dims, self.model.path)

    def load(self) -> None:
        self.engine_file.parent.mkdir(parents=True, exist_ok=True)
        if self.engine_file.is_file():
            blob = self.engine_file.read_bytes()
            self.engine_cache_hit = True
        else:
            blob = self._build()
            tmp = self.engine_file.with_suffix(".tmp")
            tmp.write_bytes(blob)
            tmp.replace(self.engine_file)
        self._engine = self.trt.Runtime(self._logger).deserialize_cuda_engine(blob)
        if self._engine is None:
            raise ConfigError(f"TensorRT could not load the cached engine {self.engine_file}; delete it to rebuild")

    # -- running ------------------------------------------------------------------------------------
    def _context(self) -> Any:
        context = getattr(self._local, "context", None)
        if context is None:  # execution contexts are not thread-safe: one per thread
            context = self._engine.create_execution_context()
            self._local.context = context
        return context

    def input_batch(self, batch_size: int) -> dict[str, np.ndarray]:
        return self.inputs.batch(batch_size)

    def _run(self, feeds: dict[str, np.ndarray], device_inputs: dict[str, Any]) -> list[np.ndarray]:
        import onnxruntime as ort

        if self._engine is None:
            raise UsageError(f"runner for {self.model.name} is closed; open a new one with open_runner()")
        trt, engine, context = self.trt, self._engine, self._context()
        outputs: list[tuple[str, Any]] = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                context.set_input_shape(name, feeds[name].shape)
                context.set_tensor_address(name, device_inputs[name].data_ptr())
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            if engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
                shape = tuple(context.get_tensor_shape(name))
                value = ort.OrtValue.ortvalue_from_shape_and_type(
                    shape, trt.nptype(engine.get_tensor_dtype(name)), "cuda", self.runtime.device_id)
                context.set_tensor_address(name, value.data_ptr())
                outputs.append((name, value))
        if not context.execute_async_v3(0):
            raise ConfigError(f"TensorRT failed to run the engine for {self.model.name}")
        # OrtValue.numpy() copies with cudaMemcpy on the legacy default stream: it waits for the engine.
        return [value.numpy() for _, value in outputs]

    def _upload(self, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
        import onnxruntime as ort

        return {n: ort.OrtValue.ortvalue_from_numpy(v, "cuda", self.runtime.device_id) for n, v in feeds.items()}

    def infer(self, batch_size: int) -> list[np.ndarray]:
        feeds = self.inputs.batch(batch_size)
        with self._lock:
            device_inputs = self._device_inputs.get(batch_size)
            if device_inputs is None:
                device_inputs = self._upload(feeds)
                self._device_inputs[batch_size] = device_inputs
        return self._run(feeds, device_inputs)

    def run_feeds(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._run(feeds, self._upload(feeds))

    def environment(self) -> dict[str, Any]:
        env = base_environment(self.model, self.runtime, provider_requested="tensorrt-native",
                               provider_used="tensorrt-native", fell_back=False, fallback_reason="",
                               precision=self.runtime.precision, model_dtype="fp32",
                               provider_options={"tensorrt-native": {"engine": str(self.engine_file),
                                                                     "engine_cache_hit": str(self.engine_cache_hit)}})
        env.update(kind=self.kind, precision_requested=self.runtime.precision, io_binding=True,
                   cold_start=self.cold_start.to_dict(),
                   weights={"precision": self.model.weights_precision, "evidence": self.model.weights_evidence})
        env.update(self.notes)
        return env

    def close(self) -> None:
        self._device_inputs.clear()
        self._local = threading.local()
        self._engine = None


def open_native_runner(model: ModelConfig, runtime: RuntimeConfig, *, model_dirs: Sequence[Path] = (),
                       cache_dir: Path | None = None) -> NativeTrtRunner:
    trt = import_tensorrt()
    t0 = time.perf_counter()
    resolved = resolve_model(model, model_dirs, cache_dir, "fp32")
    if any(spec.name.startswith("past_key_values.") for spec in onnx_input_specs(resolved.path)):
        raise UsageError(f"{resolved.name} is a decoder; the native TensorRT runner runs fixed-shape models only. "
                         "Use provider 'tensorrt' (ONNX Runtime's TensorRT EP) for decoders")
    gpu = device_name("tensorrt-native", runtime.device_id)
    cache_root = Path(runtime.cache_dir) if runtime.cache_dir else (cache_dir or default_cache_dir().parent)
    runner = NativeTrtRunner(trt, resolved, runtime, dict(model.dims),
                             engine_path(cache_root, resolved, str(trt.__version__), gpu, runtime.precision))
    t1 = time.perf_counter()
    runner.load()
    t2 = time.perf_counter()
    runner.infer(1)
    t3 = time.perf_counter()
    runner.cold_start = ColdStart(model_load_s=t1 - t0, session_build_s=t2 - t1, first_inference_s=t3 - t2)
    return runner
