"""`wattfleet audit --prometheus URL --range ...` against the real Prometheus of the session's `fleet`: the
agents' power per domain and tokens/J over the range, estimates counted apart, run records and the range
together, and a job that matches nothing exiting 1 in one line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from promfleet import CPU_W, GPU_W, Fleet
from test_prom_e2e import _raw_ratio

from tests.audit.synth import record, write
from wattfleet.core.cli import main


def _range(fleet: Fleet) -> str:
    return f"{math.ceil(time.time() - fleet.started_unix_s + 5)}s"


def _audit(tmp_path: Path, *argv: str) -> dict[str, Any]:
    out = tmp_path / "audit.json"
    assert main(["audit", *argv, "--format", "json", "--out", str(out)]) == 0
    return dict(json.loads(out.read_text()))


def test_power_and_tokens_per_joule_of_the_range(fleet: Fleet, tmp_path: Path) -> None:
    span = _range(fleet)
    report = _audit(tmp_path, "--prometheus", fleet.prom.url, "--range", span)
    raw = _raw_ratio(fleet, fleet.gpu.host_id, "gpu-board", float(span[:-1]), time.time())
    assert report["sources"] == [f"prometheus {fleet.prom.url}"]
    power = {(hp["host"], hp["key"]): hp for hp in report["host_power"]}
    assert power[(fleet.gpu.host_id, "gpu-board")]["avg_w"] == pytest.approx(GPU_W, rel=0.1)
    assert power[(fleet.gpu.host_id, "cpu-package")]["avg_w"] == pytest.approx(CPU_W, rel=0.1)
    assert power[(fleet.gpu.host_id, "gpu-board")]["p95_over"] == "samples"
    assert power[(fleet.gpu.host_id, "gpu-board")]["peak_w"] == GPU_W
    assert set(report["hosts"]) == {fleet.gpu.host_id, fleet.cpu.host_id}  # the dead host has no series
    assert any(fleet.cpu.host_id in n and "estimate" in n for n in report["notes"])  # counted apart, said so
    (eff,) = [e for e in report["efficiency"] if e["host"] == fleet.gpu.host_id]
    # tokens over joules from Prometheus's raw samples (no extrapolation), as the e2e test takes them
    assert eff["domain"] == "gpu-board:0" and eff["tokens_per_j"] == pytest.approx(raw, rel=0.1)
    assert report["allocations"] == []  # a range is not an operating point


def test_records_and_the_range_together(fleet: Fleet, tmp_path: Path) -> None:
    runs = write(tmp_path / "runs", [record("rec-host", power={"gpu-board:0": (250.0, 300.0)})])
    report = _audit(tmp_path, "--records", str(runs), "--prometheus", fleet.prom.url, "--range", _range(fleet),
                    "--prometheus-job", "wattfleet-http")
    assert set(report["hosts"]) == {"rec-host", fleet.gpu.host_id, fleet.cpu.host_id}
    assert report["n_runs"] == 3
    totals = {(t["scope"], t["key"]): t for t in report["totals"]}
    assert totals[("fleet", "gpu-board")]["n_hosts"] == 2  # the record's GPU and the range's, one domain key
    assert totals[("fleet", "gpu-board")]["avg_w"] == pytest.approx(250.0 + GPU_W, rel=0.1)


def test_a_job_that_matches_nothing_exits_1_in_one_line(fleet: Fleet) -> None:
    result = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "audit", "--prometheus", fleet.prom.url,
                             "--range", "5m", "--prometheus-job", "nobody"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and 'no wattfleet power series match {job="nobody"}' in result.stderr
