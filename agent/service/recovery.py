"""Records of runs that did not end normally, made by the one record builder from what the agent kept:
figures so far for a live run (GetRun), and a whole record for a run the agent crashed or stopped in.

A rebuilt record uses the scenario's own window rule over the queries that finished, energy from the
journal's points (one a second, interpolated to the window), and is flagged low confidence throughout.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wattfleet.agent.service.journal import EnergyPoint, StoredRun
from wattfleet.core.errors import ConfigError
from wattfleet.core.model import Figure, Query, RunRecord, Window

REBUILT_NOTE = "rebuilt after the agent stopped: figures from the queries and energy journaled before then"
ENERGY_NOTE = "energy from the journal's once-a-second points, interpolated to the window"


@dataclass(frozen=True)
class PointEnergy:
    """A domain's energy over a window, from journal points (the EnergyLike the record builder reads)."""

    energy_j: float | None
    power_avg_w: float | None
    power_peak_w: float | None
    sample_rate_hz: float
    n_samples: int
    method: str
    low_confidence: bool = True
    notes: tuple[str, ...] = (ENERGY_NOTE,)
    idle_power_w: float | None = None


def _at(ts: list[int], values: list[float], t: int) -> float:
    """Cumulative energy at t, linear between points, held at the ends."""
    i = bisect.bisect_left(ts, t)
    if i <= 0:
        return values[0]
    if i >= len(ts):
        return values[-1]
    t0, t1 = ts[i - 1], ts[i]
    return values[i - 1] + (values[i] - values[i - 1]) * (t - t0) / (t1 - t0)


def energy_from_points(points: Sequence[EnergyPoint], t0_ns: int, t1_ns: int) -> dict[str, PointEnergy]:
    """Per-domain energy over [t0_ns, t1_ns] from the journal's cumulative points."""
    if t1_ns <= t0_ns or not points:
        return {}
    out: dict[str, PointEnergy] = {}
    domains = sorted({d for p in points for d in p.energy_j})
    for d in domains:
        pts = [p for p in points if d in p.energy_j]
        ts, es = [p.t_ns for p in pts], [p.energy_j[d] for p in pts]
        energy = max(0.0, _at(ts, es, t1_ns) - _at(ts, es, t0_ns))
        covered = min(t1_ns, ts[-1]) - max(t0_ns, ts[0])
        peaks = [p.peak_w[d] for p in pts if d in p.peak_w and t0_ns <= p.t_ns and p.t_ns - 1_000_000_000 <= t1_ns]
        dur = (t1_ns - t0_ns) / 1e9
        notes = (ENERGY_NOTE,) if covered >= (t1_ns - t0_ns) * 0.9 else (
            ENERGY_NOTE, f"the journal's points cover {max(covered, 0) / 1e9:.1f} s of the {dur:.1f} s window")
        out[d] = PointEnergy(energy, energy / dur, max(peaks) if peaks else None,
                             pts[-1].sample_rate_hz.get(d, 0.0), len(pts), pts[-1].method.get(d, "integral"),
                             notes=notes)
    return out


def _profile(run: StoredRun) -> Any:
    from wattfleet.agent.workloads.profile import profile_from_dict

    try:
        return profile_from_dict(run.profile_dict, source="journal")
    except ConfigError:
        return None


def rebuild_record(run: StoredRun, queries: Sequence[Query], points: Sequence[EnergyPoint], reason: str,
                   ended_unix_ns: int) -> RunRecord:
    """The record of a run cut short, from the journal (see the module docstring)."""
    from wattfleet.agent.figures.record import fill_measured, record_of, window_from_queries
    from wattfleet.agent.workloads.config import LoadConfig
    from wattfleet.agent.workloads.scenarios import resolve_load

    profile = _profile(run)
    load = resolve_load(profile.load if profile is not None else LoadConfig())
    record = record_of(run.run_id, profile=run.profile_dict, profile_text=run.profile_text, host_id=run.host_id,
                       device=run.device, labels=run.labels, anchor_unix_ns=run.anchor_unix_ns,
                       anchor_mono_ns=run.anchor_mono_ns, started_unix_ns=run.started_unix_ns)
    record.environment, record.cold_start = dict(run.environment), dict(run.cold_start)
    record.state, record.error, record.ended_unix_ns = "interrupted", reason, ended_unix_ns
    window = window_from_queries(load.scenario, queries, load.concurrency, load.batch_size)
    energy = energy_from_points(points, window.t0_ns, window.t1_ns)
    fill_measured(record, scenario=load.scenario, load=load, slo=profile.slo if profile is not None else None,
                  queries=list(queries), window=window, energy=energy, rebuilt_note=REBUILT_NOTE,
                  percentile_method=profile.figures.percentiles if profile is not None else "loadgen")
    return record


def partial_figures(run: StoredRun | None, profile_dict: dict[str, Any], queries: Sequence[Query]) -> list[Figure]:
    """Figures over a live run's finished queries so far, all flagged low confidence (the run is not over)."""
    from wattfleet.agent.figures.latency import summarize
    from wattfleet.agent.figures.record import window_from_queries
    from wattfleet.agent.workloads.profile import profile_from_dict

    try:
        profile = profile_from_dict(profile_dict, source="run")
    except ConfigError:
        return []
    load = profile.load
    window: Window = window_from_queries(load.scenario, queries, load.concurrency, load.batch_size, ended_by="")
    if not window.measured:
        return []
    return [f.with_low_confidence()
            for f in summarize(list(queries), window.t0_ns, window.t1_ns, profile.slo, profile.figures.percentiles)]
