"""Input and output lengths drawn from a distribution (fixed, uniform, normal, log-normal), seeded.

A length is a whole number of tokens in [min, max]: draws are rounded to the nearest integer and values
outside the bounds are clipped to them (so a bound can carry a point mass; the record states both). The
n-th length of a run is a pure function of (distribution, seed, n), so worker threads may ask in any order.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from wattfleet.core.errors import ConfigError

DISTRIBUTIONS = ("fixed", "uniform", "normal", "lognormal")
# key -> distributions that take it (min and max are taken by all but fixed)
_KEYS: dict[str, tuple[str, ...]] = {
    "dist": DISTRIBUTIONS,
    "value": ("fixed",),
    "min": ("uniform", "normal", "lognormal"),
    "max": ("uniform", "normal", "lognormal"),
    "mean": ("normal", "lognormal"),
    "std": ("normal",),
    "median": ("lognormal",),
    "sigma": ("lognormal",),
}
_CHUNK = 4096  # lengths drawn per generator call; chunk k uses the seed sequence (seed, k)


@dataclass(frozen=True)
class LengthDist:
    """A length distribution as the profile states it.

    fixed: `value`. uniform: every integer in [min, max] equally likely. normal: mean, std.
    lognormal: exp(N(mu, sigma)) with mu = ln(median), or mu = ln(mean) - sigma^2/2 when `mean` is given
    (the mean of the lengths, before rounding and clipping). All but fixed need `max`; `min` defaults to 1.
    """

    dist: str
    value: int = 0
    min: int = 1
    max: int = 0
    mean: float | None = None
    std: float | None = None
    median: float | None = None
    sigma: float | None = None

    @property
    def upper(self) -> int:
        """The longest length this distribution can give."""
        return self.value if self.dist == "fixed" else self.max

    def mu(self) -> float:
        """The log-normal's location parameter (mean of the underlying normal)."""
        sigma = self.sigma or 0.0
        if self.median is not None:
            return math.log(self.median)
        return math.log(self.mean or 1.0) - sigma * sigma / 2.0

    def to_dict(self) -> dict[str, Any]:
        """TOML-shaped: only the keys this distribution takes and that are set."""
        out: dict[str, Any] = {"dist": self.dist}
        for key, takers in _KEYS.items():
            value = getattr(self, key)
            if key != "dist" and self.dist in takers and value is not None:
                out[key] = value
        return out


def _number(where: str, key: str, value: Any, *, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{where}.{key}: expected {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{where}.{key}: expected a finite number, got {value!r}")
    return value


def parse_length_dist(raw: Any, where: str) -> LengthDist:
    """Validate one `{dist = ..., ...}` table; `where` names it in errors ("profiles/x.toml: workload.x")."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table like {{dist = \"lognormal\", median = 200, sigma = 0.8, "
                          f"max = 1024}}, got {raw!r}")
    dist = raw.get("dist")
    if dist not in DISTRIBUTIONS:
        raise ConfigError(f"{where}.dist: expected one of {', '.join(map(repr, DISTRIBUTIONS))}, got {dist!r}")
    allowed = [k for k, takers in _KEYS.items() if dist in takers]
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: not a parameter of dist = {dist!r}; expected {', '.join(allowed)}")
    kw: dict[str, Any] = {"dist": dist}
    for key in ("value", "min", "max"):
        if key in raw:
            kw[key] = int(_number(where, key, raw[key], integer=True))
    for key in ("mean", "std", "median", "sigma"):
        if key in raw:
            kw[key] = float(_number(where, key, raw[key], integer=False))
    spec = LengthDist(**kw)
    _check(spec, raw, where)
    return spec


def _check(d: LengthDist, raw: Mapping[str, Any], where: str) -> None:
    def need(key: str) -> None:
        if key not in raw:
            raise ConfigError(f"{where}.{key}: required for dist = {d.dist!r}")

    if d.dist == "fixed":
        need("value")
        if d.value < 1:
            raise ConfigError(f"{where}.value: expected an integer >= 1, got {d.value}")
        return
    need("max")
    if d.dist == "uniform":
        need("min")
    if d.min < 1:
        raise ConfigError(f"{where}.min: expected an integer >= 1, got {d.min}")
    if d.max < d.min:
        raise ConfigError(f"{where}.max: expected an integer >= min ({d.min}), got {d.max}")
    if d.dist == "normal":
        need("mean")
        need("std")
        if d.std is not None and d.std < 0:
            raise ConfigError(f"{where}.std: expected a number >= 0, got {d.std:g}")
    if d.dist == "lognormal":
        need("sigma")
        if ("mean" in raw) == ("median" in raw):
            raise ConfigError(f"{where}: give exactly one of median or mean for dist = 'lognormal'")
        for key in ("mean", "median"):
            value = getattr(d, key)
            if value is not None and value <= 0:
                raise ConfigError(f"{where}.{key}: expected a number > 0, got {value:g}")
        if d.sigma is not None and d.sigma < 0:
            raise ConfigError(f"{where}.sigma: expected a number >= 0, got {d.sigma:g}")


def draw(d: LengthDist, rng: np.random.Generator, n: int) -> np.ndarray:
    """n lengths (int64) from `rng`, rounded and clipped to [min, max]."""
    if d.dist == "fixed":
        return np.full(n, d.value, dtype=np.int64)
    if d.dist == "uniform":
        return rng.integers(d.min, d.max, size=n, endpoint=True, dtype=np.int64)
    if d.dist == "normal":
        raw = rng.normal(d.mean or 0.0, d.std or 0.0, size=n)
    else:
        raw = rng.lognormal(d.mu(), d.sigma or 0.0, size=n)
    return np.clip(np.rint(raw), d.min, d.max).astype(np.int64)


class LengthSampler:
    """The n-th length of a run, the same for the same (distribution, seed) whatever order threads ask in."""

    def __init__(self, dist: LengthDist, seed: int) -> None:
        self.dist = dist
        self.seed = seed
        self._chunks: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def at(self, index: int) -> int:
        if index < 0:
            raise ValueError(f"length index must be >= 0, got {index}")
        k, i = divmod(index, _CHUNK)
        with self._lock:
            chunk = self._chunks.get(k)
            if chunk is None:
                chunk = draw(self.dist, np.random.default_rng([self.seed, k]), _CHUNK)
                self._chunks[k] = chunk
        return int(chunk[i])

    def first(self, n: int) -> list[int]:
        return [self.at(i) for i in range(n)]
