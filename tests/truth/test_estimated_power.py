"""Estimated power says what it is: the TDP is set and recorded, the host's CPU use is recorded beside the
agent's own share, and a window where other processes used the host is flagged contended."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from wattfleet.agent.telemetry.cpu import CONTENDED_OTHERS_PCT, CpuMeter
from wattfleet.core.model import RunRecord

BENCH = [sys.executable, "-m", "wattfleet.core.cli", "bench"]
SHORT = ["--set", "load.min_duration_s=1.5", "--set", "load.target_latency_percentile=0", "--threads", "1"]


def _bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], RunRecord]:
    out = tmp_path / f"r{time.monotonic_ns()}.json"
    proc = subprocess.run([*BENCH, "smoke", "--out", str(out), *SHORT, *args], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc, RunRecord.from_json(out.read_text())


def test_the_tdp_is_settable_and_recorded_with_the_estimate(tmp_path: Path) -> None:
    proc, record = _bench(tmp_path, "--power-source", "estimated", "--tdp-w", "42")
    assert record.host_cpu is not None and record.host_cpu.tdp_w == 42.0
    assert record.headline_domain == "estimated"
    assert record.host_cpu.host_util_pct is not None and record.host_cpu.agent_share_pct is not None
    assert record.host_cpu.agent_share_pct <= record.host_cpu.host_util_pct + 5.0  # ours is part of the host's
    tpj = record.headline("tokens_per_j")
    assert tpj is not None and tpj.low_confidence and tpj.definition.startswith("ESTIMATE")
    assert "TDP 42 W" in proc.stdout and "estimated" in proc.stdout


def test_other_work_on_the_host_flags_the_window_contended(tmp_path: Path) -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]  # every core busy
    try:
        proc, record = _bench(tmp_path, "--power-source", "estimated:tdp_w=65")
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    h = record.host_cpu
    assert h is not None and h.contended, h
    assert (h.host_util_pct or 0) - (h.agent_share_pct or 0) > CONTENDED_OTHERS_PCT
    assert record.validity.low_confidence
    estimated = next(e for e in record.energy if e.domain == "estimated")
    assert estimated.shared  # the estimate charged the other processes' work to this run, and says so
    assert "CONTENDED" in proc.stdout and "shared: estimated" in proc.stdout


def test_the_meter_tells_the_hosts_share_from_this_processs(tmp_path: Path) -> None:
    meter = CpuMeter(tdp_w=10.0)
    before = meter.snapshot()
    end = time.monotonic() + 0.4
    while time.monotonic() < end:  # this process busy on one core
        pass
    h = meter.over(before)
    assert h is not None and h.tdp_w == 10.0
    assert h.agent_share_pct is not None and h.agent_share_pct > 100.0 / (meter.cores * 2)
