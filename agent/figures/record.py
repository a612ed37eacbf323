"""The one record builder: a measured window's queries and energy into a RunRecord's figures, validity,
energy and task success. `wattfleet bench`, the agent and crash recovery all build records here, so a
figure means the same whichever path made it. The record type itself is core/model/record.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wattfleet.agent.figures.energy import EnergyLike, energy_figures
from wattfleet.agent.figures.latency import in_window, measured, summarize
from wattfleet.agent.figures.validity import validity
from wattfleet.agent.workloads.config import LoadConfig, SloConfig
from wattfleet.core.model import DomainEnergy, Figure, HostCpu, Query, RunRecord, Validity, Window
from wattfleet.core.model.domains import domain_kind, headline_domain

ENDED_EARLY = ("cancelled", "failed", "interrupted")


def domain_energy(domain: str, w: EnergyLike, *, headline: bool = False, shared: bool = False,
                  extra_notes: Sequence[str] = (), low_confidence: bool = False) -> DomainEnergy:
    return DomainEnergy(domain, w.method, w.energy_j, w.power_avg_w, w.power_peak_w, w.sample_rate_hz, w.n_samples,
                        w.low_confidence or low_confidence, (*w.notes, *extra_notes), headline, shared,
                        w.idle_power_w)


def shared_domains(domains: Iterable[str], device: str, other_devices: Iterable[str], contended: bool) -> set[str]:
    """Domains another run or process used during the window (METRICS.md `shared`).

    A GPU's own domains are shared only with a run on the same GPU; host-wide domains (CPU package, SoC,
    wall, the estimate) with any other run on the host, and the estimate also with a busy host.
    """
    others = set(other_devices)
    out = set()
    for d in domains:
        kind = domain_kind(d)
        if kind in ("gpu-board", "gpu-module"):
            if f"gpu:{d.split(':', 1)[1] if ':' in d else ''}" in others:
                out.add(d)
        elif others or (kind == "estimated" and contended):
            out.add(d)
    return out


def energy_block(energy: Mapping[str, EnergyLike], device: str, *, other_devices: Iterable[str] = (),
                 contended: bool = False, notes: Sequence[str] = (), low_confidence: bool = False
                 ) -> list[DomainEnergy]:
    """Per-domain energy with the headline domain (the run's own device) first, the rest in name order."""
    head = headline_domain(device, energy)
    shared = shared_domains(energy, device, other_devices, contended)
    order = sorted(energy, key=lambda d: (d != head, d))
    return [domain_energy(d, energy[d], headline=d == head, shared=d in shared, extra_notes=notes,
                          low_confidence=low_confidence) for d in order]


def _window_energy_figures(energy: Sequence[DomainEnergy], window: Window, queries: Sequence[Query]) -> list[Figure]:
    """energy.energy_figures over the tokens and queries done inside the window, headline domain first."""
    ms = measured(queries)
    t0, t1 = window.t0_ns, window.t1_ns
    done = sum(1 for q in ms if in_window(q.done_ns, t0, t1))
    tokens = sum(1 for q in ms for t in q.token_ns if in_window(t, t0, t1))
    figures = energy_figures({e.domain: e for e in energy}, tokens, done)
    rank = {e.domain: i for i, e in enumerate(energy)}
    return sorted(figures, key=lambda f: rank.get(f.domain, len(rank)))  # stable: keeps the name order


def task_spec(profile: Mapping[str, Any]) -> tuple[str, str] | None:
    """(scorer, on) of the record's profile [task], or None when nothing is scored."""
    task = profile.get("task")
    if isinstance(task, Mapping) and task.get("scorer"):
        return str(task["scorer"]), str(task.get("on", "text") or "text")
    return None


def task_success(record: RunRecord, queries: Sequence[Query], window: Window,
                 energy: Sequence[Figure]) -> list[Figure]:
    """The record's task block from each measured query's `correct`, and its figures (success_rate with
    its Wilson interval, correct_per_s, j_per_correct per energy domain); none when nothing was scored."""
    from wattfleet.agent.figures.success import success_figures, tally

    record.task = None
    spec = task_spec(record.profile)
    if spec is None:
        return []
    t0, t1 = window.t0_ns, window.t1_ns
    success = tally(((q.correct, t0 <= q.done_ns <= t1) for q in measured(queries)), *spec)
    if not success.scored:
        return []
    record.task = success.task()
    return success_figures(success, window.duration_s if window.measured else 0.0, energy)


def fill_measured(record: RunRecord, *, scenario: str, load: LoadConfig, slo: SloConfig | None,
                  queries: list[Query], window: Window, energy: Mapping[str, EnergyLike] | None = None,
                  other_devices: Iterable[str] = (), host_cpu: HostCpu | None = None,
                  percentile_method: str = "loadgen", rebuilt_note: str = "",
                  device_state: Mapping[str, Any] | None = None) -> None:
    """Figures, validity, energy and task success of one measured window into `record`. `load` has its
    defaults resolved (scenarios.resolve_load); the scorer is the record's profile's [task].
    `device_state` (telemetry.device_state) goes into the environment.

    `rebuilt_note` marks a record rebuilt after a crash: every figure and the validity are then flagged
    low confidence and the note says why.
    """
    record.queries = queries
    record.window = Window(record.window.anchor_unix_ns, record.window.anchor_mono_ns, window.t0_ns, window.t1_ns,
                           window.ended_by, window.notes, window.source)
    record.host_cpu = host_cpu
    if device_state is None and rebuilt_note and "device_state" not in record.environment:
        device_state = {"device": record.device, "note": "not kept: device samples are not journaled, and the "
                                                         "agent stopped before the run ended"}
    if device_state is not None:
        record.environment = with_device_state(record.environment, device_state)
    figures = summarize(queries, window.t0_ns, window.t1_ns, slo, percentile_method)
    block = validity(queries, window.t0_ns, window.t1_ns, scenario=scenario, min_duration_s=load.min_duration_s,
                     min_queries=load.min_queries or 0, slo=slo, target_percentile=load.target_latency_percentile)
    # the limits the run had, defaults resolved (the record's profile leaves defaults out)
    block.update(min_queries=load.min_queries, min_duration_s=load.min_duration_s,
                 max_duration_s=load.max_duration_s, percentile_method=percentile_method)
    v = Validity.from_dict(block)
    if window.ended_by in ENDED_EARLY:  # a cap is judged by the minimums; an early end never is valid
        v = v.invalid(f"run ended by {window.ended_by}")
    for note in window.notes:  # what the window lacks, e.g. "steady state not reached"
        v = v.invalid(note)
    if host_cpu is not None and host_cpu.contended:
        v = Validity(**{**v.__dict__, "low_confidence": True})
    record.energy = []
    energy_figs: list[Figure] = []
    if energy and window.measured:
        contended = host_cpu is not None and host_cpu.contended
        record.energy = energy_block(energy, record.device, other_devices=other_devices, contended=contended,
                                     notes=(rebuilt_note,) if rebuilt_note else (),
                                     low_confidence=bool(rebuilt_note))
        energy_figs = _window_energy_figures(record.energy, record.window, queries)
    figures += energy_figs + task_success(record, queries, record.window, energy_figs)
    if rebuilt_note:
        figures = [f.with_low_confidence() for f in figures]
        v = Validity(**{**v.__dict__, "low_confidence": True})
        if not v.reasons or v.reasons[-1] != f"run ended by {window.ended_by}":
            v = v.invalid(rebuilt_note)
    record.figures = figures
    record.validity = v


def with_device_state(environment: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `environment` with the window's device state (power limit, clocks and temperatures at start
    and end, throttle reasons seen) under "device_state", and its summary in "device" where the audit reads
    it (power_limit_w, clocks_mhz, throttle_reasons)."""
    from wattfleet.agent.telemetry.device_state import device_summary

    env = dict(environment)
    env["device_state"] = dict(state)
    summary = device_summary(dict(state))
    if summary:
        env["device"] = {**dict(env.get("device") or {}), **summary}
    return env


def window_from_queries(scenario: str, queries: Sequence[Query], concurrency: int = 1, batch_size: int = 1,
                        ended_by: str = "interrupted") -> Window:
    """The scenario's own window rule (METRICS.md) applied to the queries a run got through; used when a run
    was cut short and no scenario reported its window (crash recovery)."""
    from wattfleet.agent.workloads.scenarios import steady_state_start

    ms = [q for q in measured(queries)]
    if not ms:
        return Window(ended_by=ended_by)
    last_done = max(q.done_ns for q in ms)
    if scenario in ("concurrency",):
        per_query = batch_size if any(q.token_ns for q in ms) else 1
        t0 = steady_state_start(list(ms), max(1, concurrency) * per_query) or min(q.issued_ns for q in ms)
    elif scenario in ("server", "offline"):
        t0 = min(q.scheduled_ns for q in ms)
    else:  # single-stream (and anything else): first issue to last completion
        t0 = min(q.issued_ns for q in ms)
    return Window(t0_ns=t0, t1_ns=max(last_done, t0), ended_by=ended_by)


def record_of(run_id: str, *, profile: dict[str, Any], profile_text: str = "", host_id: str = "", device: str = "",
              labels: Mapping[str, str] | None = None, anchor_unix_ns: int = 0, anchor_mono_ns: int = 0,
              started_unix_ns: int = 0) -> RunRecord:
    """A new record: what runs, where, and the anchor that puts its monotonic times on a wall clock."""
    return RunRecord(run_id=run_id, profile=dict(profile), profile_text=profile_text, host_id=host_id,
                     device=device, labels=dict(labels or {}), window=Window(anchor_unix_ns, anchor_mono_ns),
                     started_unix_ns=started_unix_ns)
