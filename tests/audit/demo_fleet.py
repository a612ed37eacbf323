"""A seeded synthetic fleet with every marking the report draws, and the docs screenshot made from it.

    .venv/bin/python -m tests.audit.demo_fleet      # rewrites docs/audit-report.png (needs chromium)

12 GPU hosts in two racks (H100 and L4), one CPU host, one estimate-only host, one host without a power
source; three profiles; rate sweeps, so each host has several operating points; one slow H100 (lower
power limit, throttled), one host whose runs were all invalid, one low-confidence host; task success on
decoder-server, where one L4 answers worse than the rest.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.audit.synth import CPU, record
from wattfleet.tui.fleet.audit import (
    AuditOptions,
    Budget,
    GroupBudget,
    Rejected,
    RunSet,
    Slo,
    audit_run_from_record,
    run_audit,
)
from wattfleet.tui.fleet.audit.audit import AuditReport
from wattfleet.tui.fleet.audit.records import RecordError
from wattfleet.tui.fleet.audit.report_html import report_html

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
PROFILES = {"decoder-server": 1.0, "decoder-gpt2": 0.45, "encoder-offline": 2.2}


def _success(host: str, rng: random.Random) -> tuple[float, float, float]:
    """(rate, 95% interval) of 200 scored answers; l4-10 answers worse than the rest."""
    rate = 0.70 if host == "l4-10" else round(rng.uniform(0.90, 0.94), 3)
    half = 1.96 * (rate * (1 - rate) / 200) ** 0.5
    return rate, round(rate - half, 3), round(rate + half, 3)


def _sweep(host: str, profile: str, scale: float, watts_at_8: float, rng: random.Random, **kw: Any) -> dict[str, Any]:
    levels = []
    success = _success(host, rng) if profile == "decoder-server" else None
    for rate in (4, 8, 16):
        tps = 120.0 * rate * scale * rng.uniform(0.97, 1.03)
        watts = watts_at_8 * (0.55 + 0.45 * rate / 8) * rng.uniform(0.98, 1.02)
        levels.append(record(host, profile=profile, rate_qps=rate, tokens_per_s=tps, ttft_p99_ms=18.0 * rate ** 1.4,
                             power={"gpu-board:0": (watts, watts * 1.15)}, run_id=f"{host}/{profile}/rate={rate}",
                             success=success, correct_per_s=None if success is None else tps / 64 * success[0],
                             **kw))
    top = dict(levels[1])
    top["sweep"] = levels
    return top


def demo_records(seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(12):
        h100 = i < 6
        host = f"{'h100' if h100 else 'l4'}-{i:02d}"
        kw: dict[str, Any] = {"device": "NVIDIA H100" if h100 else "NVIDIA L4", "labels": {"rack": f"r{i % 2 + 1}"},
                              "power_limit_w": 700.0 if h100 else 72.0, "driver": "560.35"}
        watts = 520.0 if h100 else 60.0
        speed = 1.0 if h100 else 0.1
        if host == "h100-03":  # the slow one: capped and throttled
            kw.update(power_limit_w=450.0, throttle=("sw_power_cap",))
            speed *= 0.6
        for profile, scale in PROFILES.items():
            if host == "l4-09":
                kw["valid"] = False
            out.append(_sweep(host, profile, scale * speed, watts, rng, **kw))
    out.append(record("cpu-01", provider=CPU, device="AMD EPYC 9654", tokens_per_s=210.0, labels={"rack": "r1"},
                      power={"cpu-package": (280.0, 300.0)}))
    out.append(record("edge-est", provider=CPU, device="Arm Cortex-A78AE", tokens_per_s=40.0, labels={"rack": "r2"},
                      power={"estimated": (15.0, 18.0)}))
    out.append(record("bare-02", tokens_per_s=900.0, labels={"rack": "r2"}, power={}))
    out.append(record("old-schema", schema_version=9))
    return out


def demo_report() -> AuditReport:
    runs, rejected = [], []
    for i, r in enumerate(demo_records()):
        try:
            runs.append(audit_run_from_record(r, f"demo/{i:03d}.json"))
        except RecordError as exc:
            rejected.append(Rejected(f"demo/{i:03d}.json", str(exc)))
    budget = Budget(3600.0, (GroupBudget("rack", "r1", 1900.0), GroupBudget("rack", "r2", 1700.0)),
                    domain="gpu-board", source="demo-budget.toml")
    return run_audit(RunSet(tuple(runs), tuple(rejected)),
                     AuditOptions(budget=budget, slo=Slo(ttft_p99_ms=400.0), profiles=("decoder-server",),
                                  target_tokens_per_s=4000.0))


def screenshot(html_path: Path, png: Path, size: str = "1200,2400") -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--window-size={size}", f"--screenshot={png}",
                    html_path.resolve().as_uri()], check=True, capture_output=True, timeout=120)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "audit.html"
        page.write_text(report_html(demo_report()), encoding="utf-8")
        screenshot(page, ROOT / "docs" / "audit-report.png")
    print(f"wrote {ROOT / 'docs' / 'audit-report.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
