"""`wattfleet audit` end to end: formats, exit codes, one-line errors, and no power limit touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.synth import record, write
from wattfleet.core.cli import main


def _fleet(tmp_path: Path) -> Path:
    recs = [record(f"h{i}", rate_qps=r, tokens_per_s=100.0 * r, power={"gpu-board:0": (100.0 + 20 * r, 200.0)},
                   labels={"rack": f"r{i % 2}"}, ttft_p99_ms=10.0 * r) for i in range(4) for r in (4, 8)]
    recs.append(record("bad", schema_version=3))
    return write(tmp_path / "runs", recs)


def _budget(tmp_path: Path, text: str = "fleet_w = 700\n[group.rack.r0]\nbudget_w = 300\n") -> Path:
    path = tmp_path / "budget.toml"
    path.write_text(text)
    return path


def test_default_is_readable_markdown_with_the_allocation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["audit", "--records", str(_fleet(tmp_path)), "--budget", str(_budget(tmp_path)),
               "--slo-ttft-ms", "50"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert out.startswith("# wattfleet audit")
    assert "records from an unknown schema version (3" in out
    # 4 hosts x (rate=4: 400 tok/s at 180 W, p99 TTFT 40 ms; rate=8: 800 at 260 W, 80 ms); the SLO leaves
    # rate=4 only; rack r0 (h0, h2) 300 W takes one host, r1 both: 3 x 400 tok/s at 540 W
    assert "total: **1,200 tok/s** at **540 W** [gpu-board], 3 of 4 eligible hosts on" in out
    assert "4 x p99 TTFT 80 ms > 50 ms" in out
    assert "1 record(s) set aside" in err


@pytest.mark.parametrize("fmt", ["json", "csv", "html", "md"])
def test_machine_formats_to_a_file(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"audit.{fmt}"
    assert main(["audit", "--records", str(_fleet(tmp_path)), "--budget", str(_budget(tmp_path)), "--format", fmt,
                 "--out", str(out)]) == 0
    text = out.read_text()
    if fmt == "json":
        # no SLO: r0 one host at rate=8 (260 W), r1 rate=8 + rate=4 (440 W): 2000 tok/s at 700 W (or a tie)
        (alloc,) = json.loads(text)["allocations"]
        assert (alloc["tokens_per_s"], alloc["power_w"]) == (2000.0, 700.0)
    elif fmt == "csv":
        assert text.startswith("section,host,group,profile,setting,domain,metric,value,unit,note\n")
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    else:
        assert "## Where the watts go" in text


def test_the_reverse_question_and_the_solver_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--records", str(_fleet(tmp_path)), "--target-tokens-per-s", "1200", "--solver", "dp",
                 "--format", "json"]) == 0
    (alloc,) = json.loads(capsys.readouterr().out)["allocations"]
    # 1200 tok/s: rate=8 + rate=4 = 440 W is the least (three at rate=4: 540 W)
    assert alloc["power_w"] == 440.0 and alloc["solver"].startswith("dynamic programme")


@pytest.mark.parametrize(("argv", "needle"), [
    (["--records", "nowhere"], "nowhere: no such file or folder"),
    (["--records", "RUNS", "--slo-ttft-ms", "-1"], "--slo-ttft-ms must be a positive number"),
    (["--records", "RUNS", "--format", "pdf"], "invalid choice: 'pdf'"),
    (["--records", "RUNS", "--budget", "BUDGET"], "group.rakc: no host carries the label 'rakc'"),
    ([], "nothing to audit: give --records DIR"),
])
def test_usage_errors_exit_2_in_one_line(tmp_path: Path, argv: list[str], needle: str) -> None:
    runs = _fleet(tmp_path)
    budget = _budget(tmp_path, "fleet_w = 10\n[group.rakc.r1]\nbudget_w = 5\n")
    argv = [str(runs) if a == "RUNS" else str(budget) if a == "BUDGET" else a for a in argv]
    result = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "audit", *argv], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


def test_nothing_to_audit_exits_1(tmp_path: Path) -> None:
    runs = write(tmp_path / "runs", [record("a", schema_version=7), record("b", state="failed")])
    result = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "audit", "--records", str(runs)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("wattfleet audit: no run could be audited in ")
    assert "2 record(s) set aside; first: " in result.stderr and result.stderr.count("\n") == 1


def test_help_explains_the_budget_file_and_solvers() -> None:
    result = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "audit", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for words in ("--records PATH", "fleet_w = 12000", "[group.rack.r1]", "HiGHS", "never added"):
        assert words in result.stdout


def test_the_audit_never_loads_a_power_control_library(tmp_path: Path) -> None:
    code = ("import sys; from wattfleet.core.cli import main; "
            f"rc = main(['audit', '--records', {str(_fleet(tmp_path))!r}, '--budget', {str(_budget(tmp_path))!r}]); "
            "bad = [m for m in ('pynvml', 'grpc', 'textual', 'zeroconf') if m in sys.modules]; "
            "print(rc, bad, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().splitlines()[-1] == "0 []"
