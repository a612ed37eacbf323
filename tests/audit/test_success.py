"""Task success beside tokens/J (issue 13): success rate and J/correct in every report format, "answers
worse" against the fleet's best interval, and the --min-success floor in the optimiser. Synthetic records.

The fleet, profile "qa", one GPU each (gpu-board), two rates per host:
  a  success 0.95 [0.90, 0.98]; rate=4: 400 tok/s at 200 W, rate=8: 700 tok/s at 300 W
  b  success 0.93 [0.88, 0.97]; rate=4: 380 tok/s at 200 W, rate=8: 650 tok/s at 300 W
  c  success 0.60 [0.50, 0.70]; rate=4: 600 tok/s at 150 W, rate=8: 1000 tok/s at 200 W  (fast, answers worse)
  d  no answers scored;          rate=4: 500 tok/s at 200 W, rate=8: 800 tok/s at 300 W
The fleet's best lower bound is a's 0.90; c's upper bound 0.70 is below it: c answers worse.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.audit.synth import record, write
from wattfleet.core.cli import main
from wattfleet.tui.fleet.audit import AuditOptions, Budget, RunSet, Slo, audit_run_from_record, run_audit
from wattfleet.tui.fleet.audit.audit import AuditReport
from wattfleet.tui.fleet.audit.report_data import report_csv, report_json
from wattfleet.tui.fleet.audit.report_html import report_html
from wattfleet.tui.fleet.audit.report_md import report_markdown

HOSTS = {  # host -> (success, {rate: (tok/s, W)})
    "a": ((0.95, 0.90, 0.98), {4: (400.0, 200.0), 8: (700.0, 300.0)}),
    "b": ((0.93, 0.88, 0.97), {4: (380.0, 200.0), 8: (650.0, 300.0)}),
    "c": ((0.60, 0.50, 0.70), {4: (600.0, 150.0), 8: (1000.0, 200.0)}),
    "d": (None, {4: (500.0, 200.0), 8: (800.0, 300.0)}),
}


def _records() -> list[dict[str, object]]:
    out = []
    for host, (success, levels) in HOSTS.items():
        for rate, (tps, watts) in levels.items():
            out.append(record(host, profile="qa", rate_qps=rate, tokens_per_s=tps, success=success,
                              correct_per_s=None if success is None else tps / 10 * success[0],
                              power={"gpu-board:0": (watts, watts * 1.1)}, run_id=f"{host}-{rate}"))
    return out


def _audit(**kw: object) -> AuditReport:
    runs = tuple(audit_run_from_record(r, f"{i}.json") for i, r in enumerate(_records()))
    return run_audit(RunSet(runs), AuditOptions(**kw))  # type: ignore[arg-type]


def test_answers_worse_against_the_fleets_best_interval() -> None:
    report = _audit()
    assert report.best_success_low == {"qa": 0.90}
    worse = {(p.host, p.setting) for p in report.points if p.answers_worse}
    assert worse == {("c", "rate=4"), ("c", "rate=8")}
    eff = {e.host: e for e in report.efficiency}
    assert eff["c"].answers_worse and not eff["a"].answers_worse and not eff["d"].answers_worse
    assert eff["d"].success is None


def test_j_per_correct_pooled_over_runs_in_the_headline_domain() -> None:
    recs = [record("a", profile="qa", duration_s=dur, tokens_per_s=400.0, success=(0.9, 0.8, 0.95),
                   correct_per_s=cps, power={"gpu-board:0": (watts, None)}, run_id=f"a{i}")
            for i, (dur, cps, watts) in enumerate([(10.0, 20.0, 200.0), (30.0, 30.0, 300.0)])]
    report = run_audit(RunSet(tuple(audit_run_from_record(r, "x") for r in recs)))
    (e,) = report.efficiency
    # energy 200 x 10 + 300 x 30 = 11000 J; correct answers 20 x 10 + 30 x 30 = 1100
    assert e.j_per_correct == pytest.approx(11000 / 1100)
    assert e.correct_per_s == pytest.approx(25.0)  # the mean of the runs' correct/s, as tok/s


def test_without_a_floor_the_fast_wrong_host_is_chosen_and_marked() -> None:
    report = _audit(budget=Budget(600.0, domain="gpu-board", source="test"))
    (alloc,) = report.allocations
    # 600 W: c at rate=8 (1000 tok/s, 200 W) + the best 400 W of the rest: d rate=8 (300 W) + ... a/b/d
    # rate=4 at 200 W would exceed; so c 200 + d 300 = 500 W leaves 100 W: 1800 tok/s; or c 200 + two at
    # rate=4 (400 W): 1000 + 500 + 400 = 1900 tok/s at 600 W, the optimum
    assert alloc.tokens_per_s == pytest.approx(1900.0)
    chosen = {c.host: c for c in alloc.choices}
    assert chosen["c"].setting == "rate=8" and chosen["c"].answers_worse
    md = report_markdown(report)
    assert "| c | rate=8 | 1,000 | 200 | 0.60 [0.50, 0.70] ANSWERS WORSE |" in md


def test_a_success_floor_leaves_out_worse_answers_and_unknown_success() -> None:
    report = _audit(budget=Budget(600.0, domain="gpu-board", source="test"), slo=Slo(min_success=0.5))
    (alloc,) = report.allocations
    reasons = {(e.host, e.setting): e.reason for e in alloc.excluded}
    assert reasons[("c", "rate=8")] == "answers worse than the fleet's best"  # 0.60 >= 0.5, yet worse
    assert reasons[("d", "rate=4")] == "no task success in its records"
    # a and b only: a rate=8 (700, 300 W) + b rate=8 (650, 300 W) = 1350 tok/s at 600 W
    assert (alloc.tokens_per_s, alloc.power_w) == (pytest.approx(1350.0), pytest.approx(600.0))
    assert all(c.setting == "off" for c in alloc.choices if c.host in ("c", "d"))
    strict = _audit(budget=Budget(600.0, domain="gpu-board", source="test"), slo=Slo(min_success=0.94))
    reasons = {(e.host, e.setting): e.reason for e in strict.allocations[0].excluded}
    assert reasons[("b", "rate=8")] == "success 0.93 < 0.94"
    assert "success >= 0.94" in str(strict.slo)


def test_success_and_j_per_correct_in_every_report_format() -> None:
    report = _audit(budget=Budget(600.0, domain="gpu-board", source="test"))
    a = next(e for e in report.efficiency if e.host == "a")
    assert a.j_per_correct is not None
    md = report_markdown(report)
    assert "success [95% CI] | J/correct | correct/s" in md
    row = next(line for line in md.splitlines() if line.startswith("| a | qa |"))
    assert "0.95 [0.90, 0.98]" in row and f"{a.j_per_correct:.4g}" in row
    assert "c rate=8 (qa): success 0.60 [0.50, 0.70], best lower bound 0.90" in md
    doc = json.loads(report_json(report))
    effs = {e["host"]: e for e in doc["efficiency"]}
    assert effs["a"]["success"] == {"rate": 0.95, "ci_low": 0.90, "ci_high": 0.98, "scored": 100}
    assert effs["a"]["j_per_correct"] == a.j_per_correct and effs["c"]["answers_worse"] is True
    assert doc["best_success_low"] == {"qa": 0.90}
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    got = {(r["host"], r["metric"]): r for r in rows if r["section"] == "efficiency"}
    assert float(got[("a", "success_rate_ci_low")]["value"]) == 0.90
    assert float(got[("a", "j_per_correct")]["value"]) == pytest.approx(a.j_per_correct)
    assert got[("a", "j_per_correct")]["domain"] == "gpu-board:0"
    assert "answers_worse" in got[("c", "tokens_per_j")]["note"]
    html = report_html(report)
    assert "<th>success [95% CI]</th><th>J/correct</th>" in html and "0.95 [0.90, 0.98]" in html
    assert "ANSWERS WORSE" in html


def test_min_success_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = write(tmp_path / "runs", _records())  # type: ignore[arg-type]
    budget = tmp_path / "budget.toml"
    budget.write_text("fleet_w = 600\n")
    assert main(["audit", "--records", str(runs), "--budget", str(budget), "--min-success", "0.5",
                 "--format", "json"]) == 0
    (alloc,) = json.loads(capsys.readouterr().out)["allocations"]
    assert alloc["tokens_per_s"] == pytest.approx(1350.0)
    assert main(["audit", "--records", str(runs), "--min-success", "90"]) == 2
    assert capsys.readouterr().err == ("wattfleet audit: --min-success is a fraction of answers, 0 < F <= 1 "
                                       "(e.g. 0.9), got 90\n")
