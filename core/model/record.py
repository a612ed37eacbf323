"""The run record: everything one run measured, as `wattfleet bench --out` writes it and the agent
journals, streams (GetRunRecord) and summarises (GetRun).

JSON schema 2 keeps every integer below 2^53, so JavaScript's JSON.parse reads it exactly: monotonic
times are stored relative to the run's anchor (window.anchor_mono_ns) and wall-clock *_unix_ns values
as decimal strings (as proto3's JSON mapping writes int64). In memory every time is absolute.
Schema-1 records (absolute times, "requests") are still read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from wattfleet.core.model.domains import domain_kind
from wattfleet.core.model.figure import Figure, find_figure
from wattfleet.core.model.query import Query
from wattfleet.core.model.validity import Validity

SCHEMA_VERSION = 2
TIME_BASE = "monotonic ns relative to window.anchor_mono_ns; *_unix_ns are decimal strings"


class RecordError(ValueError):
    """A file or message that is not a run record this wattfleet can read."""


def _int(v: Any) -> int:
    return int(v) if v not in (None, "") else 0


@dataclass(frozen=True)
class Window:
    """The measured window (monotonic ns) and the anchor pair that places it on a wall clock."""

    anchor_unix_ns: int = 0
    anchor_mono_ns: int = 0
    t0_ns: int = 0
    t1_ns: int = 0
    ended_by: str = ""  # "limits met", "max_duration_s", "max_queries", "cancelled", "failed", "interrupted"
    notes: tuple[str, ...] = ()  # what makes the window less than asked, e.g. "steady state not reached"
    source: str = ""  # who set it, when not our own scenario (e.g. "MLPerf LoadGen")

    @property
    def duration_s(self) -> float:
        return max(self.t1_ns - self.t0_ns, 0) / 1e9

    @property
    def measured(self) -> bool:
        return self.t1_ns > self.t0_ns > 0

    def unix_ns(self, mono_ns: int) -> int:
        """A monotonic time of this run on the wall clock."""
        return self.anchor_unix_ns + (mono_ns - self.anchor_mono_ns)

    def to_dict(self) -> dict[str, Any]:
        base = self.anchor_mono_ns
        return {
            "anchor_unix_ns": str(self.anchor_unix_ns),
            "anchor_mono_ns": str(self.anchor_mono_ns),
            "t0_ns": self.t0_ns - base if self.t0_ns else None,
            "t1_ns": self.t1_ns - base if self.t1_ns else None,
            "duration_s": self.duration_s,
            "ended_by": self.ended_by,
            "notes": list(self.notes),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], schema: int = SCHEMA_VERSION) -> Window:
        notes, source = tuple(str(n) for n in d.get("notes") or ()), str(d.get("source", "") or "")
        if schema < 2:
            return cls(_int(d.get("wall_anchor_unix_ns")), _int(d.get("wall_anchor_mono_ns")),
                       _int(d.get("t0_ns")), _int(d.get("t1_ns")), str(d.get("ended_by", "")), notes, source)
        base = _int(d.get("anchor_mono_ns"))
        t0, t1 = d.get("t0_ns"), d.get("t1_ns")
        return cls(_int(d.get("anchor_unix_ns")), base, 0 if t0 is None else int(t0) + base,
                   0 if t1 is None else int(t1) + base, str(d.get("ended_by", "")), notes, source)


@dataclass(frozen=True)
class DomainEnergy:
    """Energy of one domain over the measured window (METRICS.md energy_j and what it rests on)."""

    domain: str
    method: str  # "counter" | "integral" | "none"
    energy_j: float | None = None
    power_avg_w: float | None = None
    power_peak_w: float | None = None
    sample_rate_hz: float = 0.0
    n_samples: int = 0
    low_confidence: bool = False
    notes: tuple[str, ...] = ()
    headline: bool = False
    shared: bool = False
    idle_power_w: float | None = None

    @property
    def kind(self) -> str:
        return domain_kind(self.domain)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["notes"] = list(self.notes)
        d["kind"] = self.kind
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], domain: str = "") -> DomainEnergy:
        def opt(k: str) -> float | None:
            v = d.get(k)
            return None if v is None else float(v)

        return cls(
            domain=str(d.get("domain") or domain),
            method=str(d.get("method", "none")),
            energy_j=opt("energy_j"),
            power_avg_w=opt("power_avg_w"),
            power_peak_w=opt("power_peak_w"),
            sample_rate_hz=float(d.get("sample_rate_hz", 0.0) or 0.0),
            n_samples=int(d.get("n_samples", 0) or 0),
            low_confidence=bool(d.get("low_confidence", False)),
            notes=tuple(str(n) for n in d.get("notes", ())),
            headline=bool(d.get("headline", False)),
            shared=bool(d.get("shared", False)),
            idle_power_w=opt("idle_power_w"),
        )


@dataclass(frozen=True)
class HostCpu:
    """The host's CPU over the window beside the agent's own share (both in % of all cores)."""

    host_util_pct: float | None = None
    agent_share_pct: float | None = None
    contended: bool = False
    tdp_w: float | None = None  # the TDP behind an "estimated" domain, as set
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.details, "host_util_pct": self.host_util_pct, "agent_share_pct": self.agent_share_pct,
                "contended": self.contended, "tdp_w": self.tdp_w}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HostCpu:
        keys = ("host_util_pct", "agent_share_pct", "contended", "tdp_w")
        h, a, t = d.get("host_util_pct"), d.get("agent_share_pct"), d.get("tdp_w")
        return cls(None if h is None else float(h), None if a is None else float(a), bool(d.get("contended")),
                   None if t is None else float(t), {k: v for k, v in d.items() if k not in keys})


@dataclass(frozen=True)
class TaskSuccess:
    """Items scored against their expected answers, with a 95% Wilson interval on the rate."""

    scorer: str
    items: int
    correct: int
    success_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.details, "scorer": self.scorer, "items": self.items, "correct": self.correct,
                "success_rate": self.success_rate, "ci_low": self.ci_low, "ci_high": self.ci_high}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskSuccess:
        keys = ("scorer", "items", "correct", "success_rate", "ci_low", "ci_high")

        def opt(k: str) -> float | None:
            v = d.get(k)
            return None if v is None else float(v)

        return cls(str(d.get("scorer", "")), int(d.get("items", 0)), int(d.get("correct", 0)),
                   opt("success_rate"), opt("ci_low"), opt("ci_high"),
                   {k: v for k, v in d.items() if k not in keys})


@dataclass
class RunRecord:
    """One run. Built by the one record builder (agent/workloads/record_build.py) for `wattfleet bench`,
    the agent and crash recovery alike; read back with from_json()."""

    run_id: str
    state: str = "preparing"
    host_id: str = ""
    device: str = ""  # "cpu", "gpu:0", ...
    profile: dict[str, Any] = field(default_factory=dict)  # the resolved profile, as profile_to_dict gives it
    profile_text: str = ""  # the TOML it came from, where there was one
    environment: dict[str, Any] = field(default_factory=dict)
    cold_start: dict[str, float] = field(default_factory=dict)
    window: Window = field(default_factory=Window)
    queries: list[Query] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    validity: Validity = field(default_factory=Validity)
    energy: list[DomainEnergy] = field(default_factory=list)  # the headline domain first
    host_cpu: HostCpu | None = None
    task: TaskSuccess | None = None
    # What was sent, when not generated prompts: the items file and which items ran, the trace and its
    # scale, the length distributions (agent/workloads/traffic/source.py writes it)
    workload: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    error: str = ""
    sweep: list[RunRecord] = field(default_factory=list)  # one sub-record per swept value
    sweep_summary: list[dict[str, Any]] = field(default_factory=list)
    schedule_offsets_ns: list[int] = field(default_factory=list)  # server: the arrival schedule used
    extras: dict[str, Any] = field(default_factory=dict)  # harness summaries (e.g. MLPerf LoadGen's) and the like
    labels: dict[str, str] = field(default_factory=dict)
    started_unix_ns: int = 0
    ended_unix_ns: int = 0
    schema_version: int = SCHEMA_VERSION
    # Not part of the JSON: where the agent's stream of this run stands, and the JSON's size.
    last_seq: int = 0
    record_bytes: int = 0

    # --- reading -----------------------------------------------------------------------------------

    @property
    def scenario(self) -> str:
        return str(self.profile.get("load", {}).get("scenario", ""))

    @property
    def headline_domain(self) -> str:
        return next((e.domain for e in self.energy if e.headline), "")

    def figure(self, name: str, domain: str = "") -> Figure | None:
        return find_figure(self.figures, name, domain)

    def headline(self, name: str) -> Figure | None:
        """An energy figure in the headline domain (METRICS.md), or None."""
        domain = self.headline_domain
        return find_figure(self.figures, name, domain) if domain else None

    def slim(self) -> RunRecord:
        """A copy without the per-query timings and sub-records' timings (what GetRun and lists carry)."""
        return replace(self, queries=[], sweep=[s.slim() for s in self.sweep])

    # --- JSON --------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        base = self.window.anchor_mono_ns
        return {
            "schema_version": SCHEMA_VERSION,
            "time_base": TIME_BASE,
            "run_id": self.run_id,
            "state": self.state,
            "error": self.error,
            "host_id": self.host_id,
            "device": self.device,
            "started_unix_ns": str(self.started_unix_ns),
            "ended_unix_ns": str(self.ended_unix_ns),
            "labels": dict(self.labels),
            "profile": self.profile,
            "profile_text": self.profile_text,
            "environment": self.environment,
            "cold_start": self.cold_start,
            "window": self.window.to_dict(),
            "headline_domain": self.headline_domain,
            "figures": [f.to_dict() for f in self.figures],
            "validity": self.validity.to_dict(),
            "energy": [e.to_dict() for e in self.energy],
            "host_cpu": None if self.host_cpu is None else self.host_cpu.to_dict(),
            "task": None if self.task is None else self.task.to_dict(),
            "workload": self.workload,
            "quality": self.quality,
            "extras": self.extras,
            "sweep_summary": self.sweep_summary,
            "sweep": [r.to_dict() for r in self.sweep],
            "schedule_offsets_ns": list(self.schedule_offsets_ns),
            "queries": [q.to_dict(base) for q in self.queries],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunRecord:
        if not isinstance(d, Mapping) or "run_id" not in d:
            raise RecordError("not a wattfleet run record (no run_id)")
        version = int(d.get("schema_version", 1) or 1)
        if version > SCHEMA_VERSION:
            raise RecordError(f"run record schema {version} is newer than this wattfleet reads "
                              f"({SCHEMA_VERSION}); upgrade wattfleet")
        window = Window.from_dict(d.get("window") or {}, version)
        base = window.anchor_mono_ns if version >= 2 else 0
        energy_in = d.get("energy") or []
        if isinstance(energy_in, Mapping):  # schema 1: {domain: {...}}
            energy = [DomainEnergy.from_dict(v, k) for k, v in energy_in.items()]
        else:
            energy = [DomainEnergy.from_dict(e) for e in energy_in]
        host_cpu, task = d.get("host_cpu"), d.get("task")
        return cls(
            run_id=str(d["run_id"]),
            state=str(d.get("state", "")),
            host_id=str(d.get("host_id", "") or ""),
            device=str(d.get("device", "") or ""),
            profile=dict(d.get("profile") or {}),
            profile_text=str(d.get("profile_text", "") or ""),
            environment=dict(d.get("environment") or {}),
            cold_start=dict(d.get("cold_start") or {}),
            window=window,
            queries=[Query.from_dict(q, base) for q in d.get("queries", d.get("requests", []))],
            figures=[Figure.from_dict(f) for f in d.get("figures", [])],
            validity=Validity.from_dict(d.get("validity")),
            energy=energy,
            host_cpu=HostCpu.from_dict(host_cpu) if isinstance(host_cpu, Mapping) else None,
            task=TaskSuccess.from_dict(task) if isinstance(task, Mapping) else None,
            workload=dict(d["workload"]) if isinstance(d.get("workload"), Mapping) else None,
            quality=d.get("quality"),
            error=str(d.get("error", "") or ""),
            sweep=[cls.from_dict(s) for s in d.get("sweep", [])],
            sweep_summary=list(d.get("sweep_summary", [])),
            schedule_offsets_ns=[int(x) for x in d.get("schedule_offsets_ns", [])],
            extras=dict(d.get("extras") or {}),
            labels=dict(d.get("labels") or {}),
            started_unix_ns=_int(d.get("started_unix_ns")),
            ended_unix_ns=_int(d.get("ended_unix_ns")),
            schema_version=version,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRecord:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordError(f"not JSON: {exc}") from None
        try:
            return cls.from_dict(data)
        except RecordError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecordError(f"not a run record this wattfleet reads: {type(exc).__name__}: {exc}") from None
