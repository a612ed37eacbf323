"""The native TensorRT engine runner (the `tensorrt` Python API), behind the `wattfleet[tensorrt]` extra."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.core.errors import UsageError

INSTALL_HINT = ("install it with `pip install 'wattfleet[tensorrt]'` on a host with an NVIDIA GPU and its "
                "drivers, or use provider 'tensorrt' (ONNX Runtime's TensorRT execution provider)")


def import_tensorrt() -> ModuleType:
    """`tensorrt`, imported only when a native run asks for it."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError as exc:
        raise UsageError(f"provider 'tensorrt-native' needs NVIDIA's TensorRT Python package, which is not "
                         f"installed here ({exc}); {INSTALL_HINT}") from exc


def open_native_runner(model: ModelConfig, runtime: RuntimeConfig, *, model_dirs: Sequence[Path] = (),
                       cache_dir: Path | None = None) -> Any:
    import_tensorrt()
    raise UsageError("the native TensorRT runner is not built yet; use provider 'tensorrt'")
