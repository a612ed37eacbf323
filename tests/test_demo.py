"""`wattfleet demo`, the README's first command, end to end: a real agent, zeroconf, GetInfo, a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_discovers_the_agent_shows_it_and_runs_the_smoke_profile(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wattfleet.core.cli", "demo", "--data-dir", str(tmp_path / "agent")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "discovered demo-agent at 127.0.0.1:" in out and "over zeroconf" in out
    assert "execution providers:" in out and "CPUExecutionProvider" in out
    assert "power sources: estimated (estimated)" in out  # the only source here, named as an estimate
    assert "[estimated]" in out  # tokens/J in the summary carries its domain
    assert "agent stopped (exit 0)" in out
    (record_path,) = (tmp_path / "wattfleet-demo-records").glob("*.json")
    record = json.loads(record_path.read_text())
    assert record["state"] == "completed"
    assert record["window"]["duration_s"] > 1.0  # the demo asks for ~1.5 s (smoke alone measures 0.3 s)
    assert record["environment"]["provider_used"] == "CPUExecutionProvider"
    measured = [r for r in record["queries"] if not r["warmup"]]
    assert measured and all(len(r["token_ns"]) == r["n_out"] for r in measured)
