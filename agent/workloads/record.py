"""The run record: everything one run measured, JSON-serialisable, and read back by from_dict().

`wattfleet bench --out` writes it; the agent journals it and sends it as RunRecord.record_json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wattfleet.agent.workloads.metrics import Figure, RequestTiming

SCHEMA_VERSION = 1
STATES = ("preparing", "warmup", "measuring", "completed", "failed", "cancelled")


@dataclass
class RunRecord:
    run_id: str
    state: str = "preparing"
    profile: dict[str, Any] = field(default_factory=dict)  # profile_to_dict(profile)
    profile_text: str = ""  # the TOML it came from, where there was one
    environment: dict[str, Any] = field(default_factory=dict)
    cold_start: dict[str, float] = field(default_factory=dict)
    # t0_ns, t1_ns, duration_s, wall_anchor_unix_ns, wall_anchor_mono_ns, ended_by
    window: dict[str, Any] = field(default_factory=dict)
    requests: list[RequestTiming] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    validity: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    energy: dict[str, Any] | None = None
    error: str = ""
    sweep: list[RunRecord] = field(default_factory=list)  # one sub-record per swept value
    sweep_summary: list[dict[str, Any]] = field(default_factory=list)
    schedule_offsets_ns: list[int] = field(default_factory=list)  # server: the arrival schedule used
    percentile_method: str = "loadgen"  # how figures' percentiles were taken (metrics.PERCENTILE_NOTES)
    loadgen: dict[str, Any] | None = None  # harness "loadgen": MLPerf LoadGen's own result and log files
    labels: dict[str, str] = field(default_factory=dict)
    started_unix_ns: int = 0
    ended_unix_ns: int = 0
    schema_version: int = SCHEMA_VERSION

    def figure(self, name: str, domain: str = "") -> Figure | None:
        for f in self.figures:
            if f["name"] == name and (not domain or f["domain"] == domain):
                return f
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "state": self.state,
            "error": self.error,
            "started_unix_ns": self.started_unix_ns,
            "ended_unix_ns": self.ended_unix_ns,
            "labels": dict(self.labels),
            "profile": self.profile,
            "profile_text": self.profile_text,
            "environment": self.environment,
            "cold_start": self.cold_start,
            "window": self.window,
            "figures": self.figures,
            "validity": self.validity,
            "quality": self.quality,
            "energy": self.energy,
            "sweep_summary": self.sweep_summary,
            "sweep": [r.to_dict() for r in self.sweep],
            "schedule_offsets_ns": list(self.schedule_offsets_ns),
            "percentile_method": self.percentile_method,
            "loadgen": self.loadgen,
            "requests": [r.to_dict() for r in self.requests],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        version = int(d.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            raise ValueError(f"run record schema {version} is newer than this wattfleet reads "
                             f"({SCHEMA_VERSION}); upgrade wattfleet")
        return cls(
            run_id=str(d["run_id"]),
            state=str(d.get("state", "")),
            profile=dict(d.get("profile", {})),
            profile_text=str(d.get("profile_text", "")),
            environment=dict(d.get("environment", {})),
            cold_start=dict(d.get("cold_start", {})),
            window=dict(d.get("window", {})),
            requests=[RequestTiming.from_dict(r) for r in d.get("requests", [])],
            figures=[dict(f) for f in d.get("figures", [])],
            validity=dict(d.get("validity", {})),
            quality=d.get("quality"),
            energy=d.get("energy"),
            error=str(d.get("error", "")),
            sweep=[cls.from_dict(s) for s in d.get("sweep", [])],
            sweep_summary=list(d.get("sweep_summary", [])),
            schedule_offsets_ns=[int(x) for x in d.get("schedule_offsets_ns", [])],
            percentile_method=str(d.get("percentile_method", "nearest-rank")),  # records before the key
            loadgen=d.get("loadgen"),
            labels=dict(d.get("labels", {})),
            started_unix_ns=int(d.get("started_unix_ns", 0)),
            ended_unix_ns=int(d.get("ended_unix_ns", 0)),
            schema_version=version,
        )

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        return cls.from_dict(json.loads(text))
