"""Runs on the wire: RunSpec, RunHandle, Figure, and the typed RunRecord (Window, Validity, Energy...)."""

from __future__ import annotations

from typing import Any

from wattfleet.core.model import (
    DomainEnergy,
    EarlyStopping,
    Figure,
    HostCpu,
    RunHandle,
    RunRecord,
    RunSpec,
    TaskSuccess,
    Validity,
    Window,
)
from wattfleet.core.wire.enums import (
    METHOD_NAMES,
    METHODS,
    SCENARIO_NAMES,
    SCENARIOS,
    domain_kind_to_proto,
    optional,
    run_state_name,
    run_state_to_proto,
    set_optional,
)
from wattfleet.v1 import agent_pb2 as Pb

# --- runs ----------------------------------------------------------------------------------------


def run_spec_to_proto(spec: RunSpec) -> Any:
    return Pb.RunSpec(profile=spec.profile, profile_toml=spec.profile_toml, overrides=spec.overrides,
                      labels=spec.labels, device=spec.device)


def run_spec_from_proto(msg: Any) -> RunSpec:
    return RunSpec(msg.profile, msg.profile_toml, dict(msg.overrides), dict(msg.labels), msg.device)


def run_handle_to_proto(h: RunHandle) -> Any:
    return Pb.RunHandle(run_id=h.run_id, state=run_state_to_proto(h.state), queue_position=h.queue_position)


def run_handle_from_proto(msg: Any) -> RunHandle:
    return RunHandle(msg.run_id, run_state_name(msg.state), msg.queue_position)


def figure_to_proto(f: Figure) -> Any:
    msg = Pb.Figure(name=f.name, unit=f.unit, domain=f.domain, definition=f.definition,
                    low_confidence=f.low_confidence)
    return set_optional(msg, value=f.value)


def figure_from_proto(msg: Any) -> Figure:
    return Figure(msg.name, optional(msg, "value"), msg.unit, msg.domain, msg.definition, msg.low_confidence)


def _window_to_proto(w: Window) -> Any:
    return Pb.Window(anchor_unix_ns=w.anchor_unix_ns, anchor_mono_ns=w.anchor_mono_ns, t0_ns=w.t0_ns,
                     t1_ns=w.t1_ns, duration_s=w.duration_s, ended_by=w.ended_by, notes=list(w.notes),
                     source=w.source)


def _window_from_proto(msg: Any) -> Window:
    return Window(msg.anchor_unix_ns, msg.anchor_mono_ns, msg.t0_ns, msg.t1_ns, msg.ended_by, tuple(msg.notes),
                  msg.source)


def _validity_to_proto(v: Validity) -> Any:
    msg = Pb.Validity(valid=v.valid, reasons=list(v.reasons), queries=v.queries, duration_s=v.duration_s,
                      min_duration_met=v.min_duration_met, min_queries_met=v.min_queries_met, cov_flag=v.cov_flag,
                      low_confidence=v.low_confidence, percentile_method=v.percentile_method)
    set_optional(msg, service_time_cov=v.service_time_cov)
    es = v.early_stopping
    if es is not None:
        msg.early_stopping.CopyFrom(set_optional(
            Pb.EarlyStopping(metric=es.metric, percentile=es.percentile, confidence=es.confidence,
                             queries=es.queries, max_overlatency=es.max_overlatency, met=es.met,
                             min_queries=es.min_queries),
            estimate_ms=es.estimate_ms, target_ms=es.target_ms, overlatency=es.overlatency,
        ))
    return msg


def _validity_from_proto(msg: Any) -> Validity:
    es = None
    if msg.HasField("early_stopping"):
        e = msg.early_stopping
        es = EarlyStopping(e.metric, e.percentile, e.confidence, e.queries, e.max_overlatency, e.met,
                           optional(e, "estimate_ms"), optional(e, "target_ms"), optional(e, "overlatency"),
                           e.min_queries)
    return Validity(msg.valid, tuple(msg.reasons), msg.queries, msg.duration_s, msg.min_duration_met,
                    msg.min_queries_met, es, optional(msg, "service_time_cov"), msg.cov_flag, msg.low_confidence,
                    msg.percentile_method or "loadgen")


def _energy_to_proto(e: DomainEnergy) -> Any:
    msg = Pb.Energy(domain=e.domain, kind=domain_kind_to_proto(e.domain),
                    method=METHODS.get(e.method, Pb.ENERGY_METHOD_UNSPECIFIED), sample_rate_hz=e.sample_rate_hz,
                    n_samples=e.n_samples, low_confidence=e.low_confidence, notes=list(e.notes),
                    headline=e.headline, shared=e.shared)
    return set_optional(msg, energy_j=e.energy_j, power_avg_w=e.power_avg_w, power_peak_w=e.power_peak_w,
                    idle_power_w=e.idle_power_w)


def _energy_from_proto(msg: Any) -> DomainEnergy:
    return DomainEnergy(msg.domain, METHOD_NAMES.get(msg.method, "none"), optional(msg, "energy_j"),
                        optional(msg, "power_avg_w"), optional(msg, "power_peak_w"), msg.sample_rate_hz, msg.n_samples,
                        msg.low_confidence, tuple(msg.notes), msg.headline, msg.shared, optional(msg, "idle_power_w"))


def record_to_proto(r: RunRecord) -> Any:
    """The typed record (everything but the per-query timings, which GetRunRecord carries)."""
    msg = Pb.RunRecord(
        run_id=r.run_id,
        state=run_state_to_proto(r.state),
        profile=str(r.profile.get("name", "")),
        started_unix_ns=r.started_unix_ns,
        ended_unix_ns=r.ended_unix_ns,
        host_id=r.host_id,
        figures=[figure_to_proto(f) for f in r.figures],
        error=r.error,
        labels=r.labels,
        last_seq=r.last_seq,
        window=_window_to_proto(r.window),
        validity=_validity_to_proto(r.validity),
        energy=[_energy_to_proto(e) for e in r.energy],
        headline_domain=r.headline_domain,
        scenario=SCENARIOS.get(r.scenario, Pb.SCENARIO_UNSPECIFIED),
        device=r.device,
        record_bytes=r.record_bytes,
    )
    if r.host_cpu is not None:
        h = r.host_cpu
        msg.host_cpu.CopyFrom(set_optional(Pb.HostCpu(contended=h.contended), host_util_pct=h.host_util_pct,
                                       agent_share_pct=h.agent_share_pct, tdp_w=h.tdp_w))
    if r.task is not None:
        t = r.task
        msg.task.CopyFrom(set_optional(Pb.TaskSuccess(scorer=t.scorer, items=t.items, correct=t.correct),
                                   success_rate=t.success_rate, ci_low=t.ci_low, ci_high=t.ci_high))
    return msg


def record_from_proto(msg: Any) -> RunRecord:
    """A slim RunRecord (no queries, no profile text or environment) from the wire."""
    host_cpu = task = None
    if msg.HasField("host_cpu"):
        h = msg.host_cpu
        host_cpu = HostCpu(optional(h, "host_util_pct"), optional(h, "agent_share_pct"), h.contended,
                           optional(h, "tdp_w"))
    if msg.HasField("task"):
        t = msg.task
        task = TaskSuccess(t.scorer, t.items, t.correct, optional(t, "success_rate"), optional(t, "ci_low"),
                           optional(t, "ci_high"))
    energy = [_energy_from_proto(e) for e in msg.energy]
    if msg.headline_domain and not any(e.headline for e in energy):
        energy = [DomainEnergy(msg.headline_domain, "none", headline=True), *energy]
    return RunRecord(
        run_id=msg.run_id,
        state=run_state_name(msg.state),
        host_id=msg.host_id,
        device=msg.device,
        profile={"name": msg.profile, "load": {"scenario": SCENARIO_NAMES.get(msg.scenario, "")}},
        window=_window_from_proto(msg.window),
        figures=[figure_from_proto(f) for f in msg.figures],
        validity=_validity_from_proto(msg.validity),
        energy=energy,
        host_cpu=host_cpu,
        task=task,
        error=msg.error,
        labels=dict(msg.labels),
        started_unix_ns=msg.started_unix_ns,
        ended_unix_ns=msg.ended_unix_ns,
        last_seq=msg.last_seq,
        record_bytes=msg.record_bytes,
    )


