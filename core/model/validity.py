"""Whether a run's figures can be trusted, as the record states it (the checks are in validity.py of the
workloads; this is their result, typed so that the wire and the console read the same fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


@dataclass(frozen=True)
class EarlyStopping:
    """MLPerf LoadGen's early-stopping check of one latency percentile."""

    metric: str
    percentile: float
    confidence: float
    queries: int
    max_overlatency: int  # -1: too few queries for any claim
    met: bool
    estimate_ms: float | None = None
    target_ms: float | None = None
    overlatency: int | None = None
    min_queries: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("metric", "percentile", "confidence", "queries", "max_overlatency", "met", "estimate_ms",
             "target_ms", "overlatency", "min_queries")

    def to_dict(self) -> dict[str, Any]:
        return {**self.details, **{k: getattr(self, k) for k in self._KEYS}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EarlyStopping:
        return cls(
            metric=str(d.get("metric", "")),
            percentile=float(d.get("percentile", 0.0)),
            confidence=float(d.get("confidence", 0.0)),
            queries=int(d.get("queries", 0)),
            max_overlatency=int(d.get("max_overlatency", -1)),
            met=bool(d.get("met", False)),
            estimate_ms=_opt_float(d.get("estimate_ms")),
            target_ms=_opt_float(d.get("target_ms")),
            overlatency=_opt_int(d.get("overlatency")),
            min_queries=int(d.get("min_queries", 0) or 0),
            details={k: v for k, v in d.items() if k not in cls._KEYS},
        )


@dataclass(frozen=True)
class Validity:
    """valid is False, with one line per reason, when anything is unmet. `details` keeps what only some
    scenarios have (a sweep's peak level and saturation rule, ...)."""

    valid: bool = False
    reasons: tuple[str, ...] = ()
    queries: int = 0
    duration_s: float = 0.0
    min_duration_met: bool = False
    min_queries_met: bool = False
    early_stopping: EarlyStopping | None = None
    service_time_cov: float | None = None
    cov_flag: bool = False
    low_confidence: bool = False
    percentile_method: str = "loadgen"
    details: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("valid", "reasons", "queries", "duration_s", "min_duration_met", "min_queries_met",
             "early_stopping", "service_time_cov", "cov_flag", "low_confidence", "percentile_method")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.details)
        out.update({k: getattr(self, k) for k in self._KEYS})
        out["reasons"] = list(self.reasons)
        out["early_stopping"] = None if self.early_stopping is None else self.early_stopping.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Validity:
        if not d:
            return cls()
        es = d.get("early_stopping")
        return cls(
            valid=bool(d.get("valid", False)),
            reasons=tuple(str(r) for r in d.get("reasons", ())),
            queries=int(d.get("queries", 0) or 0),
            duration_s=float(d.get("duration_s", 0.0) or 0.0),
            min_duration_met=bool(d.get("min_duration_met", False)),
            min_queries_met=bool(d.get("min_queries_met", False)),
            early_stopping=EarlyStopping.from_dict(es) if isinstance(es, Mapping) else None,
            service_time_cov=_opt_float(d.get("service_time_cov")),
            cov_flag=bool(d.get("cov_flag", False)),
            low_confidence=bool(d.get("low_confidence", False)),
            percentile_method=str(d.get("percentile_method", "loadgen") or "loadgen"),
            details={k: v for k, v in d.items() if k not in cls._KEYS},
        )

    def invalid(self, reason: str) -> Validity:
        """A copy marked not valid, with `reason` added."""
        return Validity(**{**self.__dict__, "valid": False, "reasons": (*self.reasons, reason)})
