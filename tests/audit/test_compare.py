"""Over time: changes are named only beyond the run-to-run noise the records show."""

from __future__ import annotations

import pytest

from tests.audit.synth import record
from wattfleet.tui.fleet.audit import AuditRun, RunSet, audit_run_from_record, run_audit
from wattfleet.tui.fleet.audit.compare import compare_runs


def _runs(host: str, tps: list[float], watts: float = 250.0, domain: str = "gpu-board:0") -> list[AuditRun]:
    return [audit_run_from_record(record(host, tokens_per_s=t, power={domain: (watts, watts)}, started_unix_ns=i),
                                  "x") for i, t in enumerate(tps)]


def _verdicts(before: list[AuditRun], after: list[AuditRun]) -> dict[str, tuple[str, float | None]]:
    return {c.metric: (c.verdict, c.noise_rel) for c in compare_runs(before, after)}


def test_without_repeats_noise_is_unknown_and_nothing_is_named() -> None:
    v = _verdicts(_runs("h", [1000.0]), _runs("h", [500.0]))
    assert v["tokens_per_s"] == ("noise unknown", None)
    assert v["tokens_per_j"] == ("noise unknown", None)


def test_a_drop_beyond_the_spread_of_repeats_is_a_regression() -> None:
    # before: 1000, 1040, 980 -> range 60 / median 1000 = 6%; after median 900: -10%
    v = _verdicts(_runs("h", [1000.0, 1040.0, 980.0]), _runs("h", [900.0]))
    assert v["tokens_per_s"][0] == "regression" and v["tokens_per_s"][1] == pytest.approx(0.06)
    assert v["tokens_per_j"][0] == "regression"  # same watts, fewer tokens
    assert v["ttft_p99"][0] == "within noise"  # 100 ms every time: no spread, no change
    assert v["power_avg_w"][0] == "within noise"


def test_a_change_within_the_spread_is_not_named() -> None:
    # after: 960, 1040 -> range 80 / median 1000 = 8%; against 1050 before: -4.8%, within the noise
    v = _verdicts(_runs("h", [1050.0]), _runs("h", [960.0, 1040.0]))
    assert v["tokens_per_s"] == ("within noise", pytest.approx(0.08))


def test_improvements_and_latency_direction() -> None:
    before = _runs("h", [1000.0, 1010.0])
    after = _runs("h", [1200.0, 1210.0])
    assert _verdicts(before, after)["tokens_per_s"][0] == "improvement"


def test_energy_figures_of_different_domains_are_not_compared() -> None:
    v = _verdicts(_runs("h", [1000.0, 1000.0]), _runs("h", [1000.0, 1000.0], domain="gpu-module:0"))
    assert v["tokens_per_j"][0].startswith("not compared: domains differ (gpu-board:0 before, gpu-module:0 after)")
    assert v["tokens_per_s"][0] == "within noise"


def test_the_audit_carries_the_comparison_for_hosts_in_both() -> None:
    report = run_audit(RunSet(tuple(_runs("a", [900.0]) + _runs("new", [1.0]))),
                       before=RunSet(tuple(_runs("a", [1000.0, 1000.0]) + _runs("gone", [1.0]))))
    assert report.comparison is not None
    assert {c.host for c in report.comparison} == {"a"}
    named = [c for c in report.comparison if c.metric == "tokens_per_s"]
    assert named[0].verdict == "regression" and named[0].change_rel == pytest.approx(-0.1)
