"""Run one profile end to end: open the runner, warm up, measure, summarise, compare, return its record.

    record = run_profile(profile, observer=..., cancel=threading.Event(), sampler=..., run_id="r1")

The agent's run manager and `wattfleet bench` both call run_profile(); nothing here knows about gRPC. The
record's figures, validity and energy come from the one record builder (record.py).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattfleet.agent.figures.record import fill_measured, record_of
from wattfleet.agent.figures.validity import inner_scenario
from wattfleet.agent.workloads.config import LoadConfig, Profile, sweeps_power_limit
from wattfleet.agent.workloads.power_limit import (
    open_power_limits,
    power_limit_point,
    restore_power_limits,
    set_power_limit,
)
from wattfleet.agent.workloads.profile import profile_to_dict
from wattfleet.agent.workloads.scenarios import (
    QueryExecutor,
    Recorder,
    RunObserver,
    Window,
    resolve_load,
    run_concurrency,
    run_offline,
    run_server,
    run_single_stream,
)
from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import HostCpu, Query, RunRecord, Validity, figure_value
from wattfleet.core.model import Window as ModelWindow

__all__ = ["Query", "RunObserver", "run_profile"]

# Sweep saturation: stop after a level whose throughput is below SATURATION_GAIN x the best so far
# (it stopped rising), or whose p99 latency exceeds LATENCY_BLOWUP x the first level's (it exploded).
SATURATION_GAIN = 1.05
LATENCY_BLOWUP = 10.0


@dataclass(frozen=True)
class _Context:
    """What a run measures with besides the runner: power, host CPU, and which other runs overlapped."""

    sampler: Any = None
    cpu_meter: Any = None
    other_devices: Callable[[int, int], Iterable[str]] | None = None
    limits: Any = None  # a telemetry.limits.LimitSession during a power-limit sweep


class _Watch:
    """Wraps the caller's observer: notes the host CPU when measuring starts; the per-token and per-query
    calls go straight to the caller's own methods (no extra layer on the hot path)."""

    def __init__(self, inner: RunObserver | None, rec: Recorder, meter: Any) -> None:
        self.inner, self.rec, self.meter = inner, rec, meter
        self.on_token: Callable[[int, int, int], None] = inner.on_token if inner else _ignore
        self.on_query: Callable[[Query], None] = inner.on_query if inner else _ignore
        self.on_progress: Callable[[float, int, int, float], None] = inner.on_progress if inner else _ignore

    def on_phase(self, state: str, detail: str = "") -> None:
        if state == "measuring" and self.meter is not None:
            self.rec.cpu_before = self.meter.snapshot()
        if self.inner is not None:
            self.inner.on_phase(state, detail)


def _ignore(*_args: Any) -> None:
    return None


def _phase(observer: RunObserver | None, state: str, detail: str = "") -> None:
    if observer is not None:
        observer.on_phase(state, detail)


def _environment(runner: Any) -> dict[str, Any]:
    env = dict(runner.environment())
    env.setdefault("host", {})
    env["host"] = {**env["host"], "hostname": socket.gethostname(), "platform": platform.platform(),
                   "cpu_count": os.cpu_count() or 0}
    env["python"] = platform.python_version()
    return env


def _run_scenario(runner: Any, load: LoadConfig, scenario: str, observer: RunObserver | None,
                  cancel: threading.Event, label: str = "", ctx: _Context | None = None, source: Any = None
                  ) -> tuple[Recorder, Window, list[int]]:
    rec = Recorder(load, None, cancel, label or scenario)
    meter = ctx.cpu_meter if ctx else None
    rec.observer = _Watch(observer, rec, meter) if observer is not None or meter is not None else None
    ex = QueryExecutor(runner, load, rec, source)
    if load.warmup_queries:
        _phase(observer, "warmup", f"{load.warmup_queries} queries")
    offsets: list[int] = []
    if scenario == "single-stream":
        window = run_single_stream(ex)
    elif scenario == "offline":
        window = run_offline(ex)
    elif scenario == "concurrency":
        window = run_concurrency(ex)
    elif scenario == "server":
        window, offsets = run_server(ex)
    else:  # validated by profile.py; reaching here is a bug
        raise ValueError(f"unknown scenario {scenario!r}")
    return rec, window, offsets


def _host_cpu(before: Any, meter: Any) -> HostCpu | None:
    if meter is None or before is None:
        return None
    return meter.over(before)  # type: ignore[no-any-return]


def _fill(record: RunRecord, profile: Profile, load: LoadConfig, scenario: str, rec: Recorder,
          window: Window, ctx: _Context, source: str = "") -> None:
    """Figures, validity and energy of one measured scenario run into `record` (the one record builder)."""
    queries = list(rec.requests)
    energy = None
    if ctx.sampler is not None and window.t1_ns > window.t0_ns:  # a run cancelled before measuring has none
        energy = ctx.sampler.energy(window.t0_ns, window.t1_ns)
    others = ctx.other_devices(window.t0_ns, window.t1_ns) if ctx.other_devices else ()
    fill_measured(record, scenario=scenario, load=resolve_load(load), slo=profile.slo, queries=queries,
                  window=ModelWindow(t0_ns=window.t0_ns, t1_ns=window.t1_ns, ended_by=window.ended_by,
                                     notes=window.notes, source=source),
                  energy=energy, other_devices=others, host_cpu=_host_cpu(rec.cpu_before, ctx.cpu_meter),
                  percentile_method=profile.figures.percentiles, device_state=_device_state(ctx, record, window))


def _device_state(ctx: _Context, record: RunRecord, window: Window) -> dict[str, Any] | None:
    """The device's power limit, clocks and temperature at the window's start and end, throttle reasons seen."""
    if ctx.sampler is None or not hasattr(ctx.sampler, "device_samples_after"):
        return {"device": record.device, "note": "not measured: no telemetry sampler during the run"}
    if window.t1_ns <= window.t0_ns:
        return None
    from wattfleet.agent.telemetry.device_state import device_state

    return device_state(ctx.sampler.device_samples_after(0), record.device, window.t0_ns, window.t1_ns,
                        record.window.anchor_mono_ns)


def _run_loadgen(runner: Any, profile: Profile, record: RunRecord, observer: RunObserver | None,
                 cancel: threading.Event, ctx: _Context, log_dir: Path) -> None:
    """harness = "loadgen": MLPerf LoadGen issues the queries; its verdict stands beside ours."""
    from wattfleet.agent.workloads.harness_loadgen import run_loadgen

    rec = Recorder(profile.load, None, cancel, f"MLPerf LoadGen {profile.load.scenario}")
    meter = ctx.cpu_meter
    rec.observer = _Watch(observer, rec, meter) if observer is not None or meter is not None else None
    ex = QueryExecutor(runner, profile.load, rec)
    if profile.load.warmup_queries:
        _phase(observer, "warmup", f"{profile.load.warmup_queries} queries")
    window, block = run_loadgen(ex, profile.slo, log_dir, record.window.anchor_unix_ns,
                                record.window.anchor_mono_ns)
    if rec.error is not None:
        raise rec.error
    _fill(record, profile, profile.load, profile.load.scenario, rec, window, ctx, source=block["window"]["source"])
    record.extras["loadgen"] = block
    if block["result"] != "VALID":  # the run is valid only when LoadGen says so too
        why = f": {block['invalid_reason']}" if block["invalid_reason"] else ""
        record.validity = record.validity.invalid(f"MLPerf LoadGen says {block['result'] or 'nothing'}{why}")


def _loadgen_dir(loadgen_dir: Path | None, cache_dir: Path | None, run_id: str) -> Path:
    """Where LoadGen writes its logs: the folder given, else one per run under the cache."""
    if loadgen_dir is not None:
        return loadgen_dir
    from wattfleet.agent.workloads.models import default_cache_dir

    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return (cache_dir or default_cache_dir().parent) / "loadgen" / safe


def _sweep(runner: Any, profile: Profile, record: RunRecord, observer: RunObserver | None,
           cancel: threading.Event, ctx: _Context, source: Any = None) -> None:
    """Run the inner scenario once per value; stop at saturation (see SATURATION_GAIN, LATENCY_BLOWUP).
    A power-limit sweep sets the device's limit before each step and runs every step (each one is an
    operating point); run_profile puts the original limit back."""
    load = profile.load
    over = load.sweep.over
    inner = inner_scenario(load)
    pl = over == "power_limit"
    generative = runner.kind == "generative"
    thr_name = "tokens_per_s" if generative else "samples_per_s"
    lat_name = ("ttft_p99" if inner == "server" else "e2el_p99") if generative else "latency_p99"
    best, first_lat = 0.0, 0.0
    for i, value in enumerate(load.sweep.values):
        if cancel.is_set():
            break
        changes: dict[str, Any] = ({} if pl else {"rate_qps": float(value)} if over == "rate"
                                   else {"concurrency": int(value)})
        if i > 0 and not pl:
            changes["warmup_queries"] = 0  # the runner is warm after the first level (a new limit warms up again)
        level_load = dataclasses.replace(load, scenario=inner, **changes)
        name = f"pl={value:g}W" if pl else f"{over}={value:g}"
        step = set_power_limit(ctx.limits, record, value) if pl else None
        label = f"sweep {name} ({i + 1}/{len(load.sweep.values)})"
        rec, window, offsets = _run_scenario(runner, level_load, inner, observer, cancel, label, ctx, source)
        if rec.error is not None:
            raise rec.error
        sub = record_of(f"{record.run_id}/{name}",
                        profile=profile_to_dict(dataclasses.replace(profile, load=level_load)),
                        host_id=record.host_id, device=record.device,
                        anchor_unix_ns=record.window.anchor_unix_ns, anchor_mono_ns=record.window.anchor_mono_ns)
        sub.state, sub.environment = "completed", dict(record.environment)
        sub.cold_start = record.cold_start if i == 0 else {}
        sub.schedule_offsets_ns = offsets
        _fill(sub, profile, level_load, inner, rec, window, ctx)
        record.sweep.append(sub)
        thr = figure_value(sub.figures, thr_name) or 0.0
        lat = figure_value(sub.figures, lat_name) or 0.0
        if step is not None:  # the operating point's setting, where the audit reads it
            sub.environment = {**sub.environment, "power_limit": step,
                               "device": {**dict(sub.environment.get("device") or {}), "power_limit_w": value}}
            record.sweep_summary.append(power_limit_point(sub, value, thr_name, thr, lat_name, lat))
            continue
        first_lat = first_lat or lat
        rising = thr >= best * SATURATION_GAIN
        exploded = i > 0 and first_lat > 0 and lat > first_lat * LATENCY_BLOWUP
        record.sweep_summary.append({"value": value, thr_name: thr, lat_name: lat,
                                     "saturated": (i > 0 and not rising) or exploded})
        best = max(best, thr)
        if record.sweep_summary[-1]["saturated"]:
            break
    if record.sweep:  # the record's own figures are those of the level with the highest throughput
        peak = max(record.sweep, key=lambda s: figure_value(s.figures, thr_name) or 0.0)
        record.figures = list(peak.figures)
        record.energy = list(peak.energy)
        record.host_cpu = peak.host_cpu
        record.task = peak.task
        record.window = peak.window
        record.validity = Validity(
            valid=all(s.validity.valid for s in record.sweep),
            reasons=tuple(f"{s.run_id}: {r}" for s in record.sweep for r in s.validity.reasons),
            queries=peak.validity.queries, duration_s=peak.validity.duration_s,
            min_duration_met=all(s.validity.min_duration_met for s in record.sweep),
            min_queries_met=all(s.validity.min_queries_met for s in record.sweep),
            low_confidence=any(s.validity.low_confidence for s in record.sweep),
            percentile_method=peak.validity.percentile_method,
            details={"peak": peak.run_id,
                     "saturation_rule": "every power limit is a step (no saturation stop)" if pl else
                                        f"stop when {thr_name} < {SATURATION_GAIN:g} x best so far, "
                                        f"or {lat_name} > {LATENCY_BLOWUP:g} x the first level's"})


def _quality(runner: Any, profile: Profile, model_dirs: Sequence[Path], cache_dir: Path | None,
             source: Any = None) -> dict[str, Any]:
    """Answers against quality.reference_model and/or quality.reference_provider (checked before the run
    by runners.for_profile.check_reference), with the profile's thresholds; on the profile's own items
    (answer agreement and both success rates) when it has them."""
    from wattfleet.agent.workloads.quality import compare_with_reference
    from wattfleet.agent.workloads.runners import open_runner
    from wattfleet.agent.workloads.runners.for_profile import reference_model, reference_runtime

    q = profile.quality
    reference = open_runner(reference_model(profile), reference_runtime(profile), model_dirs=model_dirs,
                            cache_dir=cache_dir)
    try:
        if source is not None and source.uses_items:
            return dict(compare_with_reference(runner, reference, items=source.prompts, grader=source.grader,
                                               eos_token_id=source.eos_ids or None,
                                               min_token_agreement=q.min_token_agreement, min_cosine=q.min_cosine))
        return dict(compare_with_reference(runner, reference, max_new_tokens=min(16, profile.load.output_tokens),
                                           seed=profile.load.seed, min_token_agreement=q.min_token_agreement,
                                           min_cosine=q.min_cosine))
    finally:
        reference.close()


def run_profile(profile: Profile, *, model_dirs: Sequence[Path] = (), cache_dir: Path | None = None,
                observer: RunObserver | None = None, cancel: threading.Event | None = None,
                sampler: Any = None, run_id: str = "", profile_text: str = "", device: str = "",
                host_id: str = "", labels: dict[str, str] | None = None, cpu_meter: Any = None,
                other_devices: Callable[[int, int], Iterable[str]] | None = None,
                on_environment: Callable[[RunRecord], None] | None = None,
                loadgen_dir: Path | None = None, power_limits: Any = None) -> RunRecord:
    """Run `profile` and return its record; an error becomes state "failed" with record.error set.

    `sampler` is a started wattfleet.agent.telemetry.Sampler (energy over the window), `cpu_meter` a
    telemetry.cpu.CpuMeter (host CPU beside this process's share), `other_devices(t0, t1)` names the devices
    of other runs that overlapped the window (their shared domains are flagged). `on_environment` is called
    once the runner is open and the record knows what runs where (the agent journals it). `loadgen_dir` is
    where MLPerf LoadGen writes its logs (harness "loadgen"; default: under the cache). `power_limits` (a
    telemetry.limits.PowerLimits) is the host's consent to a power-limit sweep: without it one is refused."""
    cancel = cancel or threading.Event()
    device = device or ("cpu" if profile.runtime.provider == "cpu" else f"gpu:{profile.runtime.device_id}")
    record = record_of(run_id or f"{profile.name}-{time.strftime('%Y%m%dT%H%M%S')}",
                       profile=profile_to_dict(profile), profile_text=profile_text, device=device,
                       host_id=host_id or socket.gethostname(), labels=labels,
                       anchor_unix_ns=time.time_ns(), anchor_mono_ns=time.monotonic_ns(),
                       started_unix_ns=time.time_ns())
    ctx = _Context(sampler, cpu_meter, other_devices)
    _phase(observer, "preparing", f"opening {profile.model.builtin or profile.model.path}")
    from wattfleet.agent.telemetry.limits import LimitError

    runner = None
    limits = None
    try:
        if sweeps_power_limit(profile.load):  # before anything opens: a refusal changes nothing
            limits = open_power_limits(power_limits, profile, record)
            ctx = dataclasses.replace(ctx, limits=limits)
        if profile.load.harness == "loadgen":  # before anything opens: one line if the extra is missing
            from wattfleet.agent.workloads.harness_loadgen import require

            require()
        from wattfleet.agent.workloads.runners.for_profile import open_profile, wants_reference
        from wattfleet.agent.workloads.traffic.source import load_files, open_source, uses_traffic

        files = load_files(profile.traffic, profile.load) if uses_traffic(profile) else None  # before the model
        opened = open_profile(profile, model_dirs=model_dirs, cache_dir=cache_dir)
        runner, profile = opened.runner, opened.profile
        source = open_source(profile, runner, files)  # every prompt and answer checked before any query
        record.environment = _environment(runner)
        if source is not None:
            record.environment.update(source.environment())
            profile = dataclasses.replace(profile, load=source.resolve_load(profile.load))
        record.cold_start = runner.cold_start.to_dict()
        if record.environment.get("provider_used") == "CPUExecutionProvider":
            record.device = "cpu"  # it fell back, or asked for the CPU: its energy is the CPU's (METRICS.md)
        if limits is not None and limits.device != record.device:
            raise LimitError(f"power-limit sweep stopped on {record.host_id}: it sets the limit of {limits.device}, "
                             f"but the run fell back to {record.device} ({record.environment.get('fallback_reason')}"
                             "); no limit was changed")
        if on_environment is not None:
            on_environment(record)
        if profile.load.scenario == "sweep":
            _sweep(runner, profile, record, observer, cancel, ctx, source)
        elif profile.load.harness == "loadgen":
            _run_loadgen(runner, profile, record, observer, cancel, ctx,
                         _loadgen_dir(loadgen_dir, cache_dir, record.run_id))
        else:
            rec, window, offsets = _run_scenario(runner, profile.load, profile.load.scenario, observer, cancel,
                                                 ctx=ctx, source=source)
            if rec.error is not None:
                raise rec.error
            record.schedule_offsets_ns = offsets
            _fill(record, profile, profile.load, profile.load.scenario, rec, window, ctx)
        if source is not None:  # what was sent, over every level of a sweep
            sent = [q for r in (record.sweep or [record]) for q in r.queries]
            record.workload = source.record_block([q.query_id for q in sent if not q.warmup],
                                                  [q.query_id for q in sent if q.warmup])
        if wants_reference(profile) and not cancel.is_set():
            _phase(observer, "measuring", "comparing answers with "
                   f"{profile.quality.reference_model or profile.model.builtin or profile.model.path} on "
                   f"{profile.quality.reference_provider or profile.runtime.provider}")
            record.quality = _quality(runner, profile, model_dirs, cache_dir, source)
        record.state = "cancelled" if cancel.is_set() else "completed"
    except WattfleetError as exc:
        record.state, record.error = "failed", str(exc)
    except Exception as exc:  # e.g. ONNX Runtime failing mid-run: the record says so, the caller goes on
        record.state, record.error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        if runner is not None:
            runner.close()
        if limits is not None:
            restore_power_limits(limits, record)
        record.ended_unix_ns = time.time_ns()
        _phase(observer, record.state, record.error)
    return record
