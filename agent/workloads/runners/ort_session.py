"""ONNX Runtime sessions: execution-provider options, the TensorRT cache key, and refusal or fallback.

The provider that runs is read back from `session.get_providers()`, never assumed: ONNX Runtime quietly
drops a provider it cannot load (no GPU, missing CUDA libraries) and runs on the CPU instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

from wattfleet.agent.workloads.config import RuntimeConfig
from wattfleet.core.errors import ConfigError, UsageError

# ONNX Runtime's own exception types (Fail, EPFail, InvalidGraph, ...) derive from Exception directly.
ORT_ERRORS: tuple[type[Exception], ...] = (RuntimeError, *(
    value for value in vars(_ort_state).values() if isinstance(value, type) and issubclass(value, Exception)))

ORT_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
DEVICE_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_capture_lock = threading.Lock()


@dataclass(frozen=True)
class SessionResult:
    session: ort.InferenceSession
    requested: str  # ORT provider name asked for
    used: str  # session.get_providers()[0]
    fell_back: bool
    reason: str  # why the requested provider did not run ("" when it did)
    provider_options: dict[str, dict[str, str]]


def ort_provider_name(provider: str) -> str:
    try:
        return ORT_PROVIDERS[provider]
    except KeyError:
        raise UsageError(f"runtime.provider {provider!r} is not an ONNX Runtime provider; "
                         f"choose from {', '.join(ORT_PROVIDERS)} (or 'tensorrt-native')") from None


def tensorrt_version() -> str:
    """The installed TensorRT version, from the Python package metadata or the library; "" if absent."""
    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt_libs"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(dist)
    return ""


def cuda_version() -> str:
    """The CUDA version this onnxruntime build targets ("" for CPU builds)."""
    try:
        from onnxruntime.capi import build_and_package_info as info
    except ImportError:
        return ""
    return str(getattr(info, "cuda_version", "") or "")


def trt_cache_key(model_sha256: str, ort_version: str, trt_version: str, device_name: str,
                  precision: str) -> str:
    """A folder name that changes whenever a cached engine could be stale.

    Engines depend on the model, the ORT and TensorRT versions, the GPU and the precision flags, so all
    of them are in the key; a readable prefix helps a person find the folder.
    """
    blob = "\n".join((model_sha256, ort_version, trt_version or "unknown", device_name or "unknown",
                      precision))
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return f"{model_sha256[:12]}-ort{ort_version}-trt{trt_version or 'unknown'}-{digest}"


def tensorrt_options(cache_root: Path, key: str, precision: str, device_id: int) -> dict[str, str]:
    """TensorRT EP options: engine and timing caches under cache_root/key, precision flags."""
    folder = cache_root / "tensorrt" / key
    options = {
        "device_id": str(device_id),
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(folder),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(folder),
        "trt_fp16_enable": "True" if precision in ("fp16", "int8") else "False",
        "trt_int8_enable": "True" if precision == "int8" else "False",
    }
    if precision == "int8":
        # Without a calibration table TensorRT takes int8 scales from QDQ nodes in the model.
        options["trt_int8_use_native_calibration_table"] = "False"
    return options


def trt_profile_shapes(inputs: dict[str, tuple[int | str | None, ...]], dims: dict[str, int], *,
                       max_batch: int, max_context: int, no_cache: bool = False) -> dict[str, str]:
    """TensorRT EP optimisation-profile options for inputs with symbolic axes.

    Without them the EP rebuilds its engine whenever a shape leaves the range it has seen, which for a
    decoder (the past grows every step) means rebuilding during the measured window. Axes: the first is
    the batch (1 .. max_batch, opt 1); a decoder's sequence, total and past lengths span the context
    (opt: one new token against half the context; without a cache, `no_cache`, the whole sequence is
    fed every step, so its opt is half the context); other symbolic axes come from `dims` (fixed).
    """
    if not any(isinstance(d, str) or d is None for shape in inputs.values() for d in shape):
        return {}
    low: list[str] = []
    opt: list[str] = []
    high: list[str] = []
    for name, shape in inputs.items():
        ranges = []
        for axis, dim in enumerate(shape):
            if isinstance(dim, int) and dim > 0:
                ranges.append((dim, dim, dim))
            elif isinstance(dim, str) and dim in dims:
                ranges.append((dims[dim], dims[dim], dims[dim]))
            elif axis == 0:
                ranges.append((1, 1, max_batch))
            elif name.startswith("past_key_values."):
                ranges.append((0, max_context // 2, max_context - 1))
            elif name == "attention_mask":
                ranges.append((1, max_context // 2 + (0 if no_cache else 1), max_context))
            elif name in ("input_ids", "position_ids"):
                ranges.append((1, max_context // 2 if no_cache else 1, max_context))
            else:
                label = dim if isinstance(dim, str) else "(unnamed)"
                raise UsageError(f"input {name!r} axis {axis} is the symbolic dimension {label!r}, which "
                                 f"TensorRT needs bound; set model.dims.{label} = <size>")
        for bucket, index in ((low, 0), (opt, 1), (high, 2)):
            bucket.append(f"{name}:{'x'.join(str(r[index]) for r in ranges)}")
    return {"trt_profile_min_shapes": ",".join(low), "trt_profile_opt_shapes": ",".join(opt),
            "trt_profile_max_shapes": ",".join(high)}


def cuda_options(device_id: int) -> dict[str, str]:
    return {"device_id": str(device_id)}


def provider_chain(runtime: RuntimeConfig, *, cache_root: Path, trt_key: str,
                   trt_extra: dict[str, str] | None = None) -> list[tuple[str, dict[str, str]]]:
    """The providers to ask ONNX Runtime for, in order, with their options (CPU always last)."""
    name = ort_provider_name(runtime.provider)
    chain: list[tuple[str, dict[str, str]]] = []
    if name == "TensorrtExecutionProvider":
        options = tensorrt_options(cache_root, trt_key, runtime.precision, runtime.device_id)
        chain.append((name, {**options, **(trt_extra or {})}))
    if name in DEVICE_PROVIDERS:
        chain.append(("CUDAExecutionProvider", cuda_options(runtime.device_id)))
    chain.append(("CPUExecutionProvider", {}))
    return chain


def session_options(runtime: RuntimeConfig) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if runtime.intra_op_threads:
        options.intra_op_num_threads = runtime.intra_op_threads
    return options


@contextlib.contextmanager
def quiet_native_output() -> Iterator[io.StringIO]:
    """Capture what ONNX Runtime's C++ logger and its Python fallback print while a session is made.

    ORT prints provider load failures straight to file descriptor 2 (and one notice to stdout); we keep
    the text to explain a refusal instead of spraying it over the user's terminal.
    """
    captured = io.StringIO()
    with _capture_lock, tempfile.TemporaryFile(mode="w+b") as sink:
        saved_err = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(captured):
                yield captured
        finally:
            os.dup2(saved_err, 2)
            os.close(saved_err)
            sink.seek(0)
            captured.write(sink.read().decode(errors="replace"))


def failure_reason(text: str) -> str:
    """The most useful line of ORT's captured output, without colours and timestamps."""
    lines = [_ANSI.sub("", line).strip() for line in text.splitlines()]
    for pattern in ("with error:", "Failed to create", "EP Error", "Please install"):
        for line in lines:
            if pattern in line:
                if "with error:" in line:
                    library = re.search(r"Failed to load library (\S+)", line)
                    tail = line.split("with error:", 1)[1].strip()
                    lib = Path(library.group(1)).name + ": " if library else ""
                    return f"{lib}{tail}"[:300]
                return re.sub(r"^.*?\] ", "", line)[:300]
    return "ONNX Runtime did not say why (no GPU or driver on this host?)"


def create_session(model: Path | bytes, runtime: RuntimeConfig, *, cache_root: Path,
                   trt_key: str = "", trt_extra: dict[str, str] | None = None) -> SessionResult:
    """Open a session on the requested provider; refuse if it does not run there unless fallback is on."""
    requested = ort_provider_name(runtime.provider)
    available = ort.get_available_providers()
    chain = provider_chain(runtime, cache_root=cache_root, trt_key=trt_key or "unkeyed", trt_extra=trt_extra)
    reason = ""
    if requested not in available:
        reason = (f"{requested} is not in this onnxruntime build (it offers {', '.join(available)}); "
                  "install onnxruntime-gpu for CUDA and TensorRT")
        if not runtime.fallback:
            raise UsageError(f"provider {runtime.provider!r} is unavailable: {reason}. "
                             "Choose another runtime.provider or set runtime.fallback = true")
        chain = [(n, o) for n, o in chain if n in available]
    if requested == "TensorrtExecutionProvider":
        (cache_root / "tensorrt" / (trt_key or "unkeyed")).mkdir(parents=True, exist_ok=True)
    names = [n for n, _ in chain]
    opts = [o for _, o in chain]
    source: Any = model if isinstance(model, bytes) else str(model)
    log = ""
    try:
        if requested in DEVICE_PROVIDERS:
            with quiet_native_output() as captured:
                session = ort.InferenceSession(source, session_options(runtime), providers=names,
                                               provider_options=opts)
            log = captured.getvalue()
        else:
            session = ort.InferenceSession(source, session_options(runtime), providers=names,
                                           provider_options=opts)
    except ORT_ERRORS as exc:
        where = "the model" if isinstance(model, bytes) else str(model)
        raise ConfigError(f"ONNX Runtime could not load {where} on {', '.join(names)}: "
                          f"{str(exc).strip()[:500]}") from exc
    used = session.get_providers()[0]
    if used != requested and not reason:
        reason = failure_reason(log)
    if used != requested and not runtime.fallback:
        del session
        raise UsageError(f"provider {runtime.provider!r} ({requested}) does not work on this host: {reason}. "
                         f"ONNX Runtime would have run on {used} instead; choose another runtime.provider "
                         "or set runtime.fallback = true to accept that")
    return SessionResult(session=session, requested=requested, used=used, fell_back=used != requested,
                         reason=reason if used != requested else "",
                         provider_options={n: dict(o) for n, o in chain})
