"""Synthetic run records in schema 1's shape (as agent/workloads/record.py writes them), for edge cases.

test_records.py checks that the keys written here are those of a real `wattfleet bench` record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GPU = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


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
    labels: Mapping[str, str] | None = None,
    ttft_p99_ms: float | None = 100.0,
    tpot_p99_ms: float | None = 20.0,
    scenario: str = "server",
    rate_qps: float = 8.0,
    concurrency: int = 1,
    started_unix_ns: int = 1_700_000_000_000_000_000,
    sweep: list[dict[str, Any]] | None = None,
    state: str = "completed",
    schema_version: int = 1,
    host_in: str = "hostname",  # where the host identity goes: hostname, label or top
) -> dict[str, Any]:
    power = {"gpu-board:0": (300.0, 350.0)} if power is None else power
    figures: list[dict[str, Any]] = [
        {"name": "tokens_per_s", "value": tokens_per_s, "unit": "tok/s", "domain": "", "definition": "",
         "low_confidence": False},
    ]
    for name, value in (("ttft_p99", ttft_p99_ms), ("tpot_p99", tpot_p99_ms)):
        if value is not None:
            figures.append({"name": name, "value": value, "unit": "ms", "domain": "", "definition": "",
                            "low_confidence": False})
    energy: dict[str, Any] = {}
    tokens = tokens_per_s * duration_s
    for domain, (avg, peak) in power.items():
        e = None if avg is None else avg * duration_s
        rows = [("energy_j", e, "J"), ("power_avg_w", avg, "W"), ("power_peak_w", peak, "W"),
                ("j_per_token", None if e is None or not tokens else e / tokens, "J/token"),
                ("tokens_per_j", None if not e else tokens / e, "tokens/J")]
        low = domain == "estimated" or avg is None
        figures += [{"name": n, "value": v, "unit": u, "domain": domain, "definition": "", "low_confidence": low}
                    for n, v, u in rows]
        energy[domain] = {"method": "counter", "energy_j": e, "sample_rate_hz": 10.0, "n_samples": 100,
                          "low_confidence": low, "notes": []}
    host_env: dict[str, Any] = {"machine": "x86_64", "system": "Linux", "cpu_count": 64}
    labels = dict(labels or {})
    top: dict[str, Any] = {}
    if host_in == "hostname":
        host_env["hostname"] = host
    elif host_in == "label":
        labels["host_id"] = host
    else:
        top["host_id"] = host
    device_env: dict[str, Any] = {"name": device, "id": device_id}
    if power_limit_w is not None:
        device_env["power_limit_w"] = power_limit_w
    if throttle:
        device_env["throttle_reasons"] = list(throttle)
    load = {"scenario": scenario, "rate_qps": rate_qps, "concurrency": concurrency, "batch_size": 1,
            "prompt_tokens": 64, "output_tokens": 64}
    return {
        "schema_version": schema_version, "run_id": run_id or f"{host}-{profile}-{started_unix_ns}", "state": state,
        "error": "" if state == "completed" else "boom", "started_unix_ns": started_unix_ns,
        "ended_unix_ns": started_unix_ns + int(duration_s * 1e9), "labels": labels,
        "profile": {"name": profile, "load": load}, "profile_text": "",
        "environment": {"provider_used": provider, "precision": precision, "device": device_env,
                        "versions": {"driver": driver} if driver else {}, "host": host_env},
        "cold_start": {}, "window": {"duration_s": duration_s}, "figures": figures,
        "validity": {"valid": valid, "reasons": [] if valid else ["too few queries"]}, "quality": None,
        "energy": energy or None, "sweep_summary": [], "sweep": sweep or [], "schedule_offsets_ns": [],
        "requests": [], **top,
    }


def write(folder: Path, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(records):
        (folder / f"{i:05d}.json").write_text(json.dumps(r), encoding="utf-8")
    return folder
