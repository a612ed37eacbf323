"""Fixed-shape inference (encoders, CNNs): inputs generated from the model's declared names, shapes, dtypes."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from wattfleet.core.errors import UsageError

NP_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16,
    "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int | str | None, ...]
    dtype: Any


def input_specs(session: ort.InferenceSession, path: Path) -> list[InputSpec]:
    specs = []
    for node in session.get_inputs():
        if node.type not in NP_DTYPES:
            raise UsageError(f"{path}: input {node.name!r} has type {node.type}, which wattfleet cannot "
                             f"generate (supported: {', '.join(NP_DTYPES)})")
        specs.append(InputSpec(node.name, tuple(node.shape), NP_DTYPES[node.type]))
    return specs


def bind_shape(spec: InputSpec, batch_size: int, dims: dict[str, int], path: Path) -> tuple[int, ...]:
    """Concrete shape: symbolic dims from `dims`, a symbolic first axis from batch_size."""
    shape: list[int] = []
    for axis, dim in enumerate(spec.shape):
        if isinstance(dim, int) and dim >= 0:
            if axis == 0 and dim != batch_size and len(spec.shape) > 1:
                raise UsageError(f"{path}: input {spec.name!r} has a fixed batch dimension of {dim}, so "
                                 f"batch_size {batch_size} cannot run; use batch_size = {dim} or a model "
                                 "exported with a dynamic batch axis")
            shape.append(dim)
        elif isinstance(dim, str) and dim in dims:
            shape.append(int(dims[dim]))
        elif axis == 0:
            shape.append(batch_size)
        else:
            label = dim if isinstance(dim, str) else "(unnamed)"
            raise UsageError(f"{path}: input {spec.name!r} axis {axis} is the symbolic dimension {label!r}, "
                             f"which the profile does not bind; set model.dims.{label} = <size>"
                             f" (bound now: {dict(dims) or 'none'})")
    return tuple(shape)


def generate_input(spec: InputSpec, shape: tuple[int, ...], seed: int, vocab_size: int) -> np.ndarray:
    """Seeded data that a model of this kind would accept: masks of ones, type ids of zeros, token ids
    below the vocabulary, normal noise for floats."""
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
    lowered = spec.name.lower()
    if spec.dtype is np.bool_:
        return np.ones(shape, dtype=np.bool_)
    if np.issubdtype(spec.dtype, np.integer):
        if "mask" in lowered:
            return np.ones(shape, dtype=spec.dtype)
        if "type" in lowered or "segment" in lowered:
            return np.zeros(shape, dtype=spec.dtype)
        high = min(vocab_size, int(np.iinfo(spec.dtype).max))
        return rng.integers(0, high, size=shape).astype(spec.dtype)
    return rng.standard_normal(shape).astype(spec.dtype)


class FixedInputs:
    """Generated inputs per batch size, made once and reused (thread-safe)."""

    def __init__(self, specs: Sequence[InputSpec], dims: dict[str, int], path: Path, seed: int = 0) -> None:
        self.specs = list(specs)
        self.dims = dict(dims)
        self.path = path
        self.seed = seed
        self.vocab_size = int(dims.get("vocab_size", 100))
        self._cache: dict[int, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def batch(self, batch_size: int) -> dict[str, np.ndarray]:
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, got {batch_size}")
        with self._lock:
            cached = self._cache.get(batch_size)
            if cached is None:
                cached = {s.name: generate_input(s, bind_shape(s, batch_size, self.dims, self.path),
                                                 self.seed, self.vocab_size) for s in self.specs}
                self._cache[batch_size] = cached
            return cached
