"""What every runner shares: the cold-start record, the resolved model, and the environment report."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wattfleet.agent.workloads.config import RuntimeConfig
from wattfleet.agent.workloads.runners.export_config import ExportConfig


@dataclass(frozen=True)
class ColdStart:
    """Seconds spent before the warm window: finding/generating and hashing the model, building the
    session or engine, and the first inference (which pays for lazy allocations and kernel selection)."""

    model_load_s: float
    session_build_s: float
    first_inference_s: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    name: str  # built-in name, or the file name
    builtin: bool
    sha256: str
    n_params: int
    metadata: dict[str, str] = field(default_factory=dict)
    # Declared graph inputs (initializers excluded) and outputs: name -> dims (int, symbolic name, or None).
    inputs: dict[str, tuple[int | str | None, ...]] = field(default_factory=dict)
    outputs: dict[str, tuple[int | str | None, ...]] = field(default_factory=dict)
    weights_precision: str = "fp32"  # from the graph (export_config.weights_precision)
    weights_evidence: str = ""
    export: ExportConfig = field(default_factory=ExportConfig)  # config.json beside a model file


def package_version(name: str) -> str:
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        return importlib.metadata.version(name)
    return ""


def cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpu_name(device_id: int) -> str:
    """The GPU's name from NVML, or "" where NVML (or the GPU) is absent."""
    try:
        import pynvml
    except ImportError:
        return ""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return ""
    try:
        name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(device_id))
        return name.decode() if isinstance(name, bytes) else str(name)
    except pynvml.NVMLError:
        return ""
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def device_name(provider_used: str, device_id: int) -> str:
    if provider_used in ("CUDAExecutionProvider", "TensorrtExecutionProvider", "tensorrt-native"):
        return gpu_name(device_id) or f"cuda:{device_id} (name unknown: NVML unavailable)"
    return cpu_name()


def versions() -> dict[str, str]:
    from wattfleet.agent.workloads.runners.ort_session import cuda_version, tensorrt_version

    ort_version = package_version("onnxruntime-gpu") or package_version("onnxruntime")
    return {
        "onnxruntime": ort_version,
        "onnx": package_version("onnx"),
        "numpy": package_version("numpy"),
        "tensorrt": tensorrt_version(),
        "cuda": cuda_version(),
        "python": platform.python_version(),
    }


def base_environment(model: ResolvedModel, runtime: RuntimeConfig, *, provider_requested: str,
                     provider_used: str, fell_back: bool, fallback_reason: str, precision: str,
                     model_dtype: str, provider_options: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "model": {"name": model.name, "path": str(model.path), "sha256": model.sha256,
                  "params": model.n_params, "builtin": model.builtin, "dtype": model_dtype},
        "provider_requested": provider_requested,
        "provider_used": provider_used,
        "fell_back": fell_back,
        "fallback_reason": fallback_reason,
        "provider_options": provider_options,
        "precision": precision,
        "threads": {"intra_op": runtime.intra_op_threads or "onnxruntime default",
                    "cpu_count": os.cpu_count() or 0},
        "versions": versions(),
        "device": {"name": device_name(provider_used, runtime.device_id), "id": runtime.device_id},
        "host": {"machine": platform.machine(), "system": platform.system()},
    }
