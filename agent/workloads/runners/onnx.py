"""ONNX Runtime runners: `open_runner` opens a model as a GenerativeRunner (decoders) or a FixedRunner.

    runner = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(provider="cpu"))
    runner.generate(runner.make_prompts(2, 16, seed=0), 8, on_token=lambda b, i, t_ns: ...)

Generative runners (decoder-only, optimum convention) do greedy decoding with the KV cache, or without
one (model.kind "decoder-no-cache": the whole sequence every step); fixed runners run one inference on
generated inputs. Both are safe to call from several threads at once.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.models.cache import default_cache_dir
from wattfleet.agent.workloads.runners.base import (
    ColdStart,
    ResolvedModel,
    base_environment,
    device_name,
    versions,
)
from wattfleet.agent.workloads.runners.decoder import DecodeLoop, DecoderLayout, inspect_decoder
from wattfleet.agent.workloads.runners.fixed import FixedInputs, input_specs
from wattfleet.agent.workloads.runners.ort_session import (
    DEVICE_PROVIDERS,
    SessionResult,
    create_session,
    trt_cache_key,
    trt_profile_shapes,
)
from wattfleet.agent.workloads.runners.plan import Kind, max_context, model_kind, plan_load
from wattfleet.agent.workloads.runners.resolve import resolve_model
from wattfleet.core.errors import ConfigError, UsageError

__all__ = ["ColdStart", "FixedRunner", "GenerativeRunner", "open_runner"]

QUANTISED = ("int8", "int4")


class _OrtRunner:
    kind = ""

    def __init__(self, model: ResolvedModel, runtime: RuntimeConfig, result: SessionResult,
                 model_kind: Kind | None = None) -> None:
        self.model = model
        self.runtime = runtime
        self.model_kind = model_kind or Kind("fixed" if self.kind == "fixed" else "decoder", "caller")
        self.notes: dict[str, Any] = {}  # what opening it for a profile decided (runners.for_profile)
        # What the record needs of the session result, without holding the session itself past close().
        self._provider: dict[str, Any] = {"requested": result.requested, "fell_back": result.fell_back,
                                          "reason": result.reason, "options": result.provider_options}
        self.session: ort.InferenceSession | None = result.session
        self.provider_used = result.used
        self.cold_start = ColdStart(0.0, 0.0, 0.0)
        # IOBinding keeps tensors on the device for CUDA and TensorRT; "" = plain numpy feeds.
        self.binding_device = "cuda" if result.used in DEVICE_PROVIDERS else ""

    @property
    def model_dtype(self) -> str:
        """The weights' precision where they are quantised, else the float type the graph computes in."""
        if self.model.weights_precision in QUANTISED:
            return self.model.weights_precision
        return self._float_dtype()

    def _float_dtype(self) -> str:
        return "fp32"

    def environment(self) -> dict[str, Any]:
        precision = self.runtime.precision
        if self.provider_used != "TensorrtExecutionProvider" or self.model_dtype in QUANTISED:
            precision = self.model_dtype  # CPU and CUDA run the weights' own precision; int8 weights stay int8
        env = base_environment(
            self.model, self.runtime, provider_requested=self._provider["requested"],
            provider_used=self.provider_used, fell_back=self._provider["fell_back"],
            fallback_reason=self._provider["reason"], precision=precision, model_dtype=self.model_dtype,
            provider_options=self._provider["options"])
        env["kind"] = self.kind
        env["model_kind"] = {"kind": self.model_kind.name, "why": self.model_kind.why}
        env["precision_requested"] = self.runtime.precision
        env["weights"] = {"precision": self.model.weights_precision, "evidence": self.model.weights_evidence}
        if precision != self.runtime.precision:
            env["precision_note"] = (f"ran in {precision} ({self.model.name}'s weights are "
                                     f"{self.model.weights_precision}); runtime.precision asked for "
                                     f"{self.runtime.precision}")
        if self.model.export.context or self.model.export.eos_token_ids:
            env["export_config"] = self.model.export.to_dict()
        env["io_binding"] = bool(self.binding_device)
        env["cold_start"] = self.cold_start.to_dict()
        env.update(self.notes)
        return env

    def _live(self) -> ort.InferenceSession:
        if self.session is None:
            raise UsageError(f"runner for {self.model.name} is closed; open a new one with open_runner()")
        return self.session

    def close(self) -> None:
        self.session = None


class GenerativeRunner(_OrtRunner):
    kind = "generative"

    def __init__(self, model: ResolvedModel, runtime: RuntimeConfig, result: SessionResult,
                 layout: DecoderLayout, max_context: int, *, model_kind: Kind | None = None,
                 context_source: str = "") -> None:
        super().__init__(model, runtime, result, model_kind)
        self.layout = layout
        self.vocab_size = layout.vocab_size
        self.max_context = max_context
        self.context_source = context_source
        # The model's own end-of-sequence token(s), from generation_config.json / config.json; generate()
        # stops at them only when passed them (benchmarks run to a fixed length, as vLLM's ignore_eos).
        self.eos_token_ids: tuple[int, ...] = model.export.eos_token_ids
        recompute = self.model_kind.name == "decoder-no-cache"
        if recompute or not layout.cache:
            self.binding_device = ""  # nothing stays on the device between steps without a cache
        self.loop = DecodeLoop(result.session, layout, max_context, device=self.binding_device,
                               device_id=runtime.device_id, recompute=recompute)

    def _float_dtype(self) -> str:
        return self.layout.dtype_name

    def environment(self) -> dict[str, Any]:
        env = super().environment()
        env["context"] = {"max_tokens": self.max_context, "source": self.context_source}
        env["kv_cache"] = not self.loop.recompute
        return env

    def make_prompts(self, n: int, prompt_tokens: int, seed: int) -> list[list[int]]:
        """`n` seeded prompts of `prompt_tokens` random token ids each."""
        if n < 1 or prompt_tokens < 1:
            raise UsageError(f"make_prompts needs n >= 1 and prompt_tokens >= 1, got {n} and {prompt_tokens}")
        if prompt_tokens >= self.max_context:
            raise UsageError(f"prompt_tokens {prompt_tokens} leaves no room to generate in the model's "
                             f"context of {self.max_context}")
        rng = np.random.default_rng(seed)
        ids: list[list[int]] = rng.integers(0, self.vocab_size, size=(n, prompt_tokens)).tolist()
        return ids

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int | Sequence[int],
                 on_token: Callable[[int, int, int], None] | None = None,
                 eos_token_id: int | Sequence[int] | None = None) -> list[list[int]]:
        """Greedy tokens for each prompt, up to its limit (one int for all, or one per prompt).

        With eos_token_id (e.g. `runner.eos_token_ids`) a prompt also stops once it has produced that
        token; the EOS token is part of its output, timestamped through on_token and counted (as vLLM
        counts it). The batch runs until every prompt has stopped; each output has its real length.
        on_token(b, k, t_ns) is called for the k-th token of prompt b when it reaches the host."""
        self._live()
        return self.loop.generate(prompts, max_new_tokens, on_token, eos_token_id)

    def prefill_logits(self, prompts: Sequence[Sequence[int]]) -> np.ndarray:
        self._live()
        return self.loop.prefill_logits(prompts)

    def close(self) -> None:
        self.loop.session = None  # drop every reference so the model's memory is released
        super().close()


class FixedRunner(_OrtRunner):
    kind = "fixed"

    def __init__(self, model: ResolvedModel, runtime: RuntimeConfig, result: SessionResult,
                 dims: dict[str, int], model_kind: Kind | None = None) -> None:
        super().__init__(model, runtime, result, model_kind)
        self.inputs = FixedInputs(input_specs(result.session, model.path), dims, model.path)
        self.output_names = [o.name for o in result.session.get_outputs()]
        self._device_inputs: dict[int, dict[str, ort.OrtValue]] = {}
        self._lock = threading.Lock()

    def _float_dtype(self) -> str:
        floats = {s.dtype for s in self.inputs.specs if np.issubdtype(s.dtype, np.floating)}
        return "fp16" if floats == {np.float16} else "fp32"

    def input_batch(self, batch_size: int) -> dict[str, np.ndarray]:
        return self.inputs.batch(batch_size)

    def run_feeds(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One inference on given inputs (the quality comparison feeds both runners the same ones)."""
        return [np.asarray(x) for x in self._live().run(self.output_names, feeds)]

    def infer(self, batch_size: int) -> list[np.ndarray]:
        session = self._live()
        feeds = self.inputs.batch(batch_size)
        if not self.binding_device:
            return [np.asarray(x) for x in session.run(self.output_names, feeds)]
        # Inputs go to the device once per batch size; outputs are copied back as the answer.
        with self._lock:
            device_feeds = self._device_inputs.get(batch_size)
            if device_feeds is None:
                device_feeds = {n: ort.OrtValue.ortvalue_from_numpy(v, self.binding_device, self.runtime.device_id)
                                for n, v in feeds.items()}
                self._device_inputs[batch_size] = device_feeds
        binding = session.io_binding()
        for name, value in device_feeds.items():
            binding.bind_ortvalue_input(name, value)
        for name in self.output_names:
            binding.bind_output(name, self.binding_device, self.runtime.device_id)
        session.run_with_iobinding(binding)
        return [value.numpy() for value in binding.get_outputs()]

    def close(self) -> None:
        self._device_inputs.clear()
        super().close()


def _check_precision(runtime: RuntimeConfig, runner: _OrtRunner) -> None:
    if runtime.precision not in ("fp32", "fp16", "int8"):
        raise UsageError(f"runtime.precision {runtime.precision!r}: choose fp32, fp16 or int8")
    if runner.provider_used == "TensorrtExecutionProvider" or runtime.precision == "fp32":
        return
    if runner._provider["fell_back"]:  # accepted by `fallback`; the record shows what precision really ran
        return
    if runner.model_dtype != runtime.precision:
        raise UsageError(
            f"precision {runtime.precision} on {runner.provider_used} needs a model exported in "
            f"{runtime.precision} ({runner.model.name} has {runner.model_dtype} weights); use provider "
            "'tensorrt', which builds reduced-precision engines, or an exported model of that precision "
            "(int8: onnxruntime.quantization.quantize_dynamic)")


def open_runner(model: ModelConfig, runtime: RuntimeConfig, *, model_dirs: Sequence[Path] = (),
                cache_dir: Path | None = None, load: LoadConfig | None = None,
                given: Collection[str] = ()) -> GenerativeRunner | FixedRunner | Any:
    """Load the model, build the session on the requested provider, run it once, and time each part.

    With `load` (and the profile keys the user `given`), the load is checked against the model before
    the session is built (runners.plan.plan_load): prompt + output within the context, decoder flags
    only for decoders, an encoder's sequence axis bound to load.prompt_tokens."""
    if runtime.provider == "tensorrt-native":
        return _open_native(model, runtime, model_dirs, cache_dir, load, given)
    t0 = time.perf_counter()
    # CPU and CUDA run the weights' own precision, so fp16 there means the fp16 variant of a built-in;
    # TensorRT builds reduced-precision engines from the fp32 model itself.
    weights = runtime.precision if runtime.provider in ("cpu", "cuda") else "fp32"
    resolved = resolve_model(model, model_dirs, cache_dir, weights)
    kind = model_kind(model, resolved)
    context = max_context(model, resolved)
    dims = plan_load(kind, resolved, model, load, given, context)
    t1 = time.perf_counter()
    cache_root = Path(runtime.cache_dir) if runtime.cache_dir else (cache_dir or default_cache_dir().parent)
    trt_key, trt_extra = "", {}
    if runtime.provider == "tensorrt":
        found = versions()
        trt_key = trt_cache_key(resolved.sha256, found["onnxruntime"], found["tensorrt"],
                                device_name("TensorrtExecutionProvider", runtime.device_id), runtime.precision)
        trt_extra = trt_profile_shapes(resolved.inputs, dims, max_batch=dims.get("max_batch", 8),
                                       max_context=context[0], no_cache=kind.name == "decoder-no-cache")
    result = create_session(resolved.path, runtime, cache_root=cache_root, trt_key=trt_key, trt_extra=trt_extra)
    t2 = time.perf_counter()
    runner: GenerativeRunner | FixedRunner
    if kind.generative:
        layout = inspect_decoder(result.session, resolved.path, resolved.metadata, dims, kind.name)
        runner = GenerativeRunner(resolved, runtime, result, layout, context[0], model_kind=kind,
                                  context_source=context[1])
        _check_precision(runtime, runner)
        runner.generate(runner.make_prompts(1, min(8, runner.max_context - 2), seed=0), 2)
    else:
        if not result.session.get_inputs():
            raise ConfigError(f"{resolved.path} has no inputs to feed; wattfleet cannot benchmark it")
        runner = FixedRunner(resolved, runtime, result, dims, kind)
        _check_precision(runtime, runner)
        runner.infer(1)
    t3 = time.perf_counter()
    runner.cold_start = ColdStart(model_load_s=t1 - t0, session_build_s=t2 - t1, first_inference_s=t3 - t2)
    return runner


def _open_native(model: ModelConfig, runtime: RuntimeConfig, model_dirs: Sequence[Path], cache_dir: Path | None,
                 load: LoadConfig | None, given: Collection[str]) -> Any:
    """The native TensorRT runner (fixed-shape models), with the same checks of the load first."""
    from wattfleet.agent.workloads.runners.trt_native import open_native_runner

    resolved = resolve_model(model, model_dirs, cache_dir, "fp32")
    kind = model_kind(model, resolved)
    if kind.generative:
        raise UsageError(f"{resolved.name} runs as a {kind.name} ({kind.why}); the native TensorRT runner runs "
                         "fixed-shape models only. Use provider 'tensorrt' (ONNX Runtime's TensorRT EP) for decoders")
    dims = plan_load(kind, resolved, model, load, given, max_context(model, resolved))
    model = dataclasses.replace(model, dims=dims)
    return open_native_runner(model, runtime, model_dirs=model_dirs, cache_dir=cache_dir)
