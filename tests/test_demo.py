"""`wattfleet demo --headless`, end to end: a real agent, zeroconf, GetInfo, a run, printed (the console demo is
tested in tests/console/test_demo_tmux.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from wattfleet import profiles

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

C_CORE_LINE = re.compile(r"^[EWID]\d{4} \d\d:\d\d:\d\d\.\d+ |absl::InitializeLog|ev_poll_posix", re.MULTILINE)


def test_demo_discovers_the_agent_shows_it_and_runs_the_smoke_profile(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wattfleet.core.cli", "demo", "--headless", "--data-dir", str(tmp_path / "agent")],
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
    own = tomllib.loads((Path(profiles.__file__).parent / "smoke.toml").read_text())["load"]["min_duration_s"]
    assert record["profile"]["load"]["min_duration_s"] == own  # the demo never overrides the profile's minimum
    assert record["window"]["duration_s"] >= own * 0.9
    header, row = out.split("\nhost ", 1)[1].splitlines()[:2]
    assert header.split()[:2] == ["state", "validity"]  # the table judges the run as bench does
    assert row.split()[2] == ("valid" if record["validity"]["valid"] else "NOT")
    assert ("* low confidence" in out) == any(
        f["low_confidence"] for f in record["figures"]
        if f["name"] in ("tokens_per_s", "samples_per_s", "ttft_p99", "tpot_p50", "tokens_per_j"))
    assert not C_CORE_LINE.search(result.stderr + out), result.stderr
    assert record["environment"]["provider_used"] == "CPUExecutionProvider"
    measured = [r for r in record["queries"] if not r["warmup"]]
    assert measured and all(len(r["token_ns"]) == r["n_out"] for r in measured)
