"""Synthetic run records for the edge cases: schema 2 written by core's own writer (RunRecord.to_dict, as
`wattfleet run` and `wattfleet bench` write them), or schema 1's shape (what earlier versions wrote).

test_records.py checks that the keys written here are those of a real `wattfleet bench` record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wattfleet.core.model import DomainEnergy, Figure, HostCpu, RunRecord, TaskSuccess, Validity, Window
from wattfleet.core.model.domains import headline_domain

GPU = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
MONO0 = 5_000_000_000  # the anchor's monotonic time


def record(
    host: str,
    *,
    profile: str = "decoder-server",
    run_id: str = "",
    tokens_per_s: float = 1000.0,
    power: Mapping[str, tuple[float | None, float | None]] | None = None,  # domain -> (avg W, peak W)
    duration_s: float = 10.0,
    valid: bool = True,
    provider: str = GPU,
    device: str = "NVIDIA H100",
    device_id: int = 0,
    precision: str = "fp16",
    driver: str = "",
    power_limit_w: float | None = None,
    throttle: tuple[str, ...] = (),
    device_state: Mapping[str, Any] | None = None,  # environment.device_state as the agent writes it
    labels: Mapping[str, str] | None = None,
    ttft_p99_ms: float | None = 100.0,
    tpot_p99_ms: float | None = 20.0,
    scenario: str = "server",
    rate_qps: float = 8.0,
    concurrency: int = 1,
    power_limit_step_w: float | None = None,  # a power-limit sweep step: the limit the agent set for it
    started_unix_ns: int = 1_700_000_000_000_000_000,
    sweep: list[dict[str, Any]] | None = None,
    state: str = "completed",
    error: str = "boom",  # a run that did not complete says why
    schema_version: int = 2,  # 1: schema 1's shape; any other than 1 or 2: a schema 2 record saying it
    host_in: str = "top",  # schema 1 only: where the host identity goes: top (host_id), label or hostname
    shared: tuple[str, ...] = (),  # domains shared with other work during the window
    contended: bool = False,
    success: tuple[float, float, float] | None = None,  # (rate, ci_low, ci_high)
    success_in: str = "task",  # "task": the record's task block and figures; "figures": figures only
    correct_per_s: float | None = None,
) -> dict[str, Any]:
    power = {"gpu-board:0": (300.0, 350.0)} if power is None else power
    tokens = tokens_per_s * duration_s
    figures = [Figure("tokens_per_s", tokens_per_s, "tok/s")]
    figures += [Figure(n, v, "ms") for n, v in (("ttft_p99", ttft_p99_ms), ("tpot_p99", tpot_p99_ms)) if v is not None]
    on_gpu = provider != CPU
    dev = f"gpu:{device_id}" if on_gpu else "cpu"
    headline = headline_domain(dev, power)
    energy = []
    for domain, (avg, peak) in power.items():
        e = None if avg is None else avg * duration_s
        low = domain == "estimated" or avg is None
        figures += [Figure(n, v, u, domain, low_confidence=low) for n, v, u in (
            ("energy_j", e, "J"), ("power_avg_w", avg, "W"), ("power_peak_w", peak, "W"),
            ("j_per_token", None if e is None or not tokens else e / tokens, "J/token"),
            ("tokens_per_j", None if not e else tokens / e, "tokens/J"))]
        energy.append(DomainEnergy(domain, "counter", e, avg, peak, 10.0, 100, low, headline=domain == headline,
                                   shared=domain in shared))
    task = None
    if success is not None:
        rate, low_ci, high_ci = success
        figures += [Figure("success_rate", rate, "fraction"), Figure("success_rate_ci_low", low_ci, "fraction"),
                    Figure("success_rate_ci_high", high_ci, "fraction")]
        if success_in == "task":
            task = TaskSuccess("exact", 100, round(rate * 100), rate, low_ci, high_ci)
        if correct_per_s is not None:
            figures.append(Figure("correct_per_s", correct_per_s, "correct/s"))
            figures += [Figure("j_per_correct", (avg or 0) / correct_per_s, "J/correct", d)
                        for d, (avg, _) in power.items() if avg]
    device_env: dict[str, Any] = {"name": device, "id": device_id}
    if power_limit_w is not None:
        device_env["power_limit_w"] = power_limit_w
    if throttle:
        device_env["throttle_reasons"] = list(throttle)
    environment: dict[str, Any] = {"provider_used": provider, "precision": precision, "device": device_env,
                                   "versions": {"driver": driver} if driver else {},
                                   "host": {"machine": "x86_64", "system": "Linux", "cpu_count": 64}}
    if device_state is not None:
        environment["device_state"] = dict(device_state)
    if power_limit_step_w is not None:  # as the driver writes a step (branch pl11): set, read back, original
        environment["power_limit"] = {"set_w": power_limit_step_w, "via": "nvml", "device": dev, "original_w": 700.0,
                                      "read_back_w": {"gpu:0": power_limit_step_w}}
        device_env["power_limit_w"] = power_limit_step_w
    load: dict[str, Any] = {"scenario": scenario, "rate_qps": rate_qps, "concurrency": concurrency,
                            "batch_size": 1, "prompt_tokens": 64, "output_tokens": 64}
    run_id = run_id or f"{host}-{profile}-{started_unix_ns}"
    if schema_version == 1:
        return _v1(host, run_id, state, started_unix_ns, duration_s, labels, profile, load, environment, figures,
                   energy, valid, sweep, host_in)
    t0 = MONO0 + 1_000_000_000
    rec = RunRecord(
        run_id=run_id, state=state, host_id=host, device=dev, error="" if state == "completed" else error,
        profile={"name": profile, "load": load}, environment=environment,
        window=Window(started_unix_ns, MONO0, t0, t0 + round(duration_s * 1e9), "limits met"),
        figures=figures, validity=Validity(valid, () if valid else ("too few queries",), duration_s=duration_s),
        energy=energy, task=task, labels=dict(labels or {}), started_unix_ns=started_unix_ns,
        ended_unix_ns=started_unix_ns + round(duration_s * 1e9),
        host_cpu=HostCpu(host_util_pct=95.0, agent_share_pct=30.0, contended=True) if contended else None,
    )
    out = rec.to_dict()
    out["sweep"] = list(sweep or [])
    if schema_version != 2:
        out["schema_version"] = schema_version
    return out


def _v1(host: str, run_id: str, state: str, started_unix_ns: int, duration_s: float,
        labels: Mapping[str, str] | None, profile: str, load: dict[str, Any], environment: dict[str, Any],
        figures: list[Figure], energy: list[DomainEnergy], valid: bool, sweep: list[dict[str, Any]] | None,
        host_in: str) -> dict[str, Any]:
    """Schema 1's shape: absolute monotonic times, energy as {domain: {...}}, no headline, `requests`."""
    labels = dict(labels or {})
    top: dict[str, Any] = {}
    if host_in == "hostname":
        environment["host"]["hostname"] = host
    elif host_in == "label":
        labels["host_id"] = host
    else:
        top["host_id"] = host
    t0 = MONO0 + 1_000_000_000
    return {
        "schema_version": 1, "run_id": run_id, "state": state, "error": "" if state == "completed" else "boom",
        "started_unix_ns": started_unix_ns, "ended_unix_ns": started_unix_ns + int(duration_s * 1e9),
        "labels": labels, "profile": {"name": profile, "load": load}, "profile_text": "", "environment": environment,
        "cold_start": {}, "window": {"t0_ns": t0, "t1_ns": t0 + round(duration_s * 1e9), "duration_s": duration_s,
                                     "wall_anchor_unix_ns": started_unix_ns, "wall_anchor_mono_ns": MONO0},
        "figures": [f.to_dict() for f in figures],
        "validity": {"valid": valid, "reasons": [] if valid else ["too few queries"]}, "quality": None,
        "energy": {e.domain: {"method": e.method, "energy_j": e.energy_j, "sample_rate_hz": e.sample_rate_hz,
                              "n_samples": e.n_samples, "low_confidence": e.low_confidence, "notes": []}
                   for e in energy} or None,
        "sweep_summary": [], "sweep": sweep or [], "schedule_offsets_ns": [], "requests": [], **top,
    }


def write(folder: Path, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(records):
        (folder / f"{i:05d}.json").write_text(json.dumps(r), encoding="utf-8")
    return folder
