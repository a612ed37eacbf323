"""Run one profile end to end: open the runner, warm up, measure, summarise, compare, write a record.

    record = run_profile(profile, observer=..., cancel=threading.Event(), sampler=..., run_id="r1")

The agent's run manager and `wattfleet bench` both call run_profile(); nothing here knows about gRPC.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wattfleet.agent.workloads.config import LoadConfig, Profile
from wattfleet.agent.workloads.metrics import figure_value, measured, summarize
from wattfleet.agent.workloads.profile import profile_to_dict
from wattfleet.agent.workloads.record import RunRecord
from wattfleet.agent.workloads.scenarios import (
    QueryExecutor,
    QueryTiming,
    Recorder,
    RunObserver,
    Window,
    run_concurrency,
    run_offline,
    run_server,
    run_single_stream,
)
from wattfleet.agent.workloads.validity import validity
from wattfleet.core.errors import WattfleetError

__all__ = ["QueryTiming", "RunObserver", "run_profile"]

# Sweep saturation: stop after a level whose throughput is below SATURATION_GAIN x the best so far
# (it stopped rising), or whose p99 latency exceeds LATENCY_BLOWUP x the first level's (it exploded).
SATURATION_GAIN = 1.05
LATENCY_BLOWUP = 10.0


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
                  cancel: threading.Event, label: str = "") -> tuple[Recorder, Window, list[int]]:
    rec = Recorder(load, observer, cancel, label or scenario)
    ex = QueryExecutor(runner, load, rec)
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


def _fill(record: RunRecord, profile: Profile, load: LoadConfig, scenario: str, rec: Recorder,
          window: Window, sampler: Any) -> None:
    """Figures, validity and energy of one measured scenario run into `record`."""
    requests = list(rec.requests)
    record.requests = requests
    record.window.update({"t0_ns": window.t0_ns, "t1_ns": window.t1_ns,
                          "duration_s": (window.t1_ns - window.t0_ns) / 1e9, "ended_by": window.ended_by})
    record.figures = summarize(requests, window.t0_ns, window.t1_ns, profile.slo)
    record.validity = validity(requests, window.t0_ns, window.t1_ns, scenario=scenario,
                               min_duration_s=load.min_duration_s, min_queries=load.min_queries,
                               slo=profile.slo)
    if window.ended_by in ("cancelled", "failed"):  # a cap is judged by the minimums above
        record.validity["reasons"].append(f"run ended by {window.ended_by}")
        record.validity["valid"] = False
    if sampler is not None and window.t1_ns > window.t0_ns:  # a run cancelled before measuring has no window
        _add_energy(record, sampler, window)


def _add_energy(record: RunRecord, sampler: Any, window: Window) -> None:
    from wattfleet.agent.telemetry import energy_figures

    windows = sampler.energy(window.t0_ns, window.t1_ns)
    ms = [r for r in measured(record.requests) if window.t0_ns <= r.done_ns <= window.t1_ns]
    tokens = sum(1 for r in measured(record.requests) for t in r.token_ns if window.t0_ns <= t <= window.t1_ns)
    record.figures.extend(energy_figures(windows, tokens, len(ms)))
    record.energy = {
        d: {"method": w.method, "energy_j": w.energy_j, "sample_rate_hz": w.sample_rate_hz,
            "n_samples": w.n_samples, "low_confidence": w.low_confidence, "notes": list(w.notes)}
        for d, w in windows.items()
    }


def _sweep(runner: Any, profile: Profile, record: RunRecord, observer: RunObserver | None,
           cancel: threading.Event, sampler: Any) -> None:
    """Run the inner scenario once per value; stop at saturation (see SATURATION_GAIN, LATENCY_BLOWUP)."""
    load = profile.load
    over = load.sweep.over
    inner = "server" if over == "rate" else "concurrency"
    generative = runner.kind == "generative"
    thr_name = "tokens_per_s" if generative else "samples_per_s"
    lat_name = ("ttft_p99" if over == "rate" else "e2el_p99") if generative else "latency_p99"
    best, first_lat = 0.0, 0.0
    for i, value in enumerate(load.sweep.values):
        if cancel.is_set():
            break
        changes: dict[str, Any] = {"rate_qps": float(value)} if over == "rate" else {"concurrency": int(value)}
        if i > 0:
            changes["warmup_queries"] = 0  # the runner is warm after the first level
        level_load = dataclasses.replace(load, scenario=inner, **changes)
        label = f"sweep {over}={value:g} ({i + 1}/{len(load.sweep.values)})"
        rec, window, offsets = _run_scenario(runner, level_load, inner, observer, cancel, label)
        if rec.error is not None:
            raise rec.error
        sub = RunRecord(run_id=f"{record.run_id}/{over}={value:g}", state="completed",
                        window=dict(record.window), environment=record.environment,
                        cold_start=record.cold_start if i == 0 else {})
        sub.profile = profile_to_dict(dataclasses.replace(profile, load=level_load))
        sub.schedule_offsets_ns = offsets
        _fill(sub, profile, level_load, inner, rec, window, sampler)
        record.sweep.append(sub)
        thr = figure_value(sub.figures, thr_name) or 0.0
        lat = figure_value(sub.figures, lat_name) or 0.0
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
        record.figures = [dict(f) for f in peak.figures]
        record.window.update({k: peak.window[k] for k in ("t0_ns", "t1_ns", "duration_s")})
        record.validity = {"valid": all(s.validity.get("valid") for s in record.sweep),
                           "reasons": [f"{s.run_id}: {r}" for s in record.sweep for r in s.validity["reasons"]],
                           "peak": peak.run_id,
                           "queries": peak.validity.get("queries", 0),
                           "saturation_rule": f"stop when {thr_name} < {SATURATION_GAIN:g} x best so far, "
                                              f"or {lat_name} > {LATENCY_BLOWUP:g} x the first level's"}


def _quality(runner: Any, profile: Profile, model_dirs: Sequence[Path], cache_dir: Path | None) -> dict[str, Any]:
    """Answers against quality.reference_model and/or quality.reference_provider (checked before the run
    by runners.for_profile.check_reference), with the profile's thresholds."""
    from wattfleet.agent.workloads.quality import compare_with_reference
    from wattfleet.agent.workloads.runners import open_runner
    from wattfleet.agent.workloads.runners.for_profile import reference_model, reference_runtime

    q = profile.quality
    reference = open_runner(reference_model(profile), reference_runtime(profile), model_dirs=model_dirs,
                            cache_dir=cache_dir)
    try:
        return dict(compare_with_reference(runner, reference, max_new_tokens=min(16, profile.load.output_tokens),
                                           seed=profile.load.seed, min_token_agreement=q.min_token_agreement,
                                           min_cosine=q.min_cosine))
    finally:
        reference.close()


def run_profile(profile: Profile, *, model_dirs: Sequence[Path] = (), cache_dir: Path | None = None,
                observer: RunObserver | None = None, cancel: threading.Event | None = None,
                sampler: Any = None, run_id: str = "", profile_text: str = "") -> RunRecord:
    """Run `profile` and return its record; an error becomes state "failed" with record.error set.

    `sampler` is a started wattfleet.agent.telemetry.Sampler; its energy over the window is added."""
    cancel = cancel or threading.Event()
    record = RunRecord(run_id=run_id or f"{profile.name}-{time.strftime('%Y%m%dT%H%M%S')}",
                       profile=profile_to_dict(profile), profile_text=profile_text)
    record.started_unix_ns = time.time_ns()
    record.window = {"wall_anchor_unix_ns": time.time_ns(), "wall_anchor_mono_ns": time.monotonic_ns()}
    _phase(observer, "preparing", f"opening {profile.model.builtin or profile.model.path}")
    runner = None
    try:
        from wattfleet.agent.workloads.runners.for_profile import open_profile, wants_reference

        opened = open_profile(profile, model_dirs=model_dirs, cache_dir=cache_dir)
        runner, profile = opened.runner, opened.profile
        record.environment = _environment(runner)
        record.cold_start = runner.cold_start.to_dict()
        if profile.load.scenario == "sweep":
            _sweep(runner, profile, record, observer, cancel, sampler)
        else:
            rec, window, offsets = _run_scenario(runner, profile.load, profile.load.scenario, observer, cancel)
            if rec.error is not None:
                raise rec.error
            record.schedule_offsets_ns = offsets
            _fill(record, profile, profile.load, profile.load.scenario, rec, window, sampler)
        if wants_reference(profile) and not cancel.is_set():
            _phase(observer, "measuring", "comparing answers with "
                   f"{profile.quality.reference_model or profile.model.builtin or profile.model.path} on "
                   f"{profile.quality.reference_provider or profile.runtime.provider}")
            record.quality = _quality(runner, profile, model_dirs, cache_dir)
        record.state = "cancelled" if cancel.is_set() else "completed"
    except WattfleetError as exc:
        record.state, record.error = "failed", str(exc)
    except Exception as exc:  # e.g. ONNX Runtime failing mid-run: the record says so, the caller goes on
        record.state, record.error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        if runner is not None:
            runner.close()
        record.ended_unix_ns = time.time_ns()
        _phase(observer, record.state, record.error)
    return record
