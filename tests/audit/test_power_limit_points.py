"""Power-limit sweeps as operating points: each step of a sweep is a point whose setting names the limit
the agent set ("concurrency=4 pl=250W"), the allocation says which limit to apply per host, and the
device state the agent recorded over each window feeds the outlier evidence. Records shaped as the
sweep driver writes them (environment.power_limit per step, environment.device_state per window).

Two hosts, concurrency 4, limits 200/250/300 W (tok/s, W on gpu-board):
  g1  200: 700 at 195   250: 850 at 240   300: 900 at 280
  g2  200: 650 at 190   250: 800 at 235   300: 880 at 290
Fleet budget 500 W, by hand: 250+250 = 475 W for 1650 tok/s; 300+200 = 470 W for 1550; 200+300 = 485 W for
1580; any pair with a 300 and a 250 is over 500 W. The answer: pl=250W on both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.audit.synth import record, write
from wattfleet.tui.fleet.audit import AuditOptions, Budget, RunSet, audit_run_from_record, load_runs, run_audit
from wattfleet.tui.fleet.audit.report_data import report_json
from wattfleet.tui.fleet.audit.report_md import report_markdown

STEPS = {"g1": {200.0: (700.0, 195.0), 250.0: (850.0, 240.0), 300.0: (900.0, 280.0)},
         "g2": {200.0: (650.0, 190.0), 250.0: (800.0, 235.0), 300.0: (880.0, 290.0)}}


def _state(limit: float, throttle: tuple[str, ...] = ()) -> dict[str, Any]:
    snap = {"power_limit_w": limit, "sm_clock_mhz": 1755.0, "mem_clock_mhz": 2619.0, "temperature_c": 60.0}
    return {"device": "gpu:0", "start": {**snap, "throttle_reasons": []},
            "end": {**snap, "throttle_reasons": list(throttle)}, "throttle_reasons_seen": list(throttle),
            "n_samples": 40}


def _sweep(host: str) -> dict[str, Any]:
    levels = [record(host, scenario="concurrency", concurrency=4, tokens_per_s=tps, power={"gpu-board:0": (w, w)},
                     power_limit_step_w=limit, device_state=_state(limit, ("sw_power_cap",)),
                     run_id=f"{host}-run/pl={limit:g}W")
              for limit, (tps, w) in STEPS[host].items()]
    parent = record(host, scenario="sweep", tokens_per_s=max(t for t, _ in STEPS[host].values()),
                    power={"gpu-board:0": (280.0, 290.0)}, run_id=f"{host}-run", power_limit_w=700.0)
    parent["sweep"] = levels
    return parent


def test_each_step_is_a_point_named_by_its_limit() -> None:
    run = audit_run_from_record(_sweep("g1"), "x")
    assert [s.setting for s in run.sweep] == ["concurrency=4 pl=200W", "concurrency=4 pl=250W",
                                              "concurrency=4 pl=300W"]
    assert [s.env.power_limit_w for s in run.sweep] == [200.0, 250.0, 300.0]
    assert all(s.env.throttle_reasons == ("sw_power_cap",) for s in run.sweep)


def test_the_allocation_names_the_limit_to_apply_per_host() -> None:
    runs = RunSet(tuple(audit_run_from_record(_sweep(h), f"{h}.json") for h in STEPS))
    report = run_audit(runs, AuditOptions(budget=Budget(500.0, domain="gpu-board", source="test")))
    (alloc,) = report.allocations
    assert {(c.host, c.setting) for c in alloc.choices} == {("g1", "concurrency=4 pl=250W"),
                                                            ("g2", "concurrency=4 pl=250W")}
    assert (alloc.tokens_per_s, alloc.power_w) == (pytest.approx(1650.0), pytest.approx(475.0))
    md = report_markdown(report)
    assert "| g1 | concurrency=4 pl=250W | 850 | 240 |" in md
    assert "| g2 | concurrency=4 pl=250W | 800 | 235 |" in md
    doc = json.loads(report_json(report))
    assert {p["setting"] for p in doc["operating_points"] if p["host"] == "g1"} == {
        "concurrency=4 pl=200W", "concurrency=4 pl=250W", "concurrency=4 pl=300W"}


def test_the_device_state_is_outlier_evidence() -> None:
    def host(name: str, watts: float, state: dict[str, Any]) -> dict[str, Any]:
        return record(name, device="NVIDIA L4", tokens_per_s=1000.0, power={"gpu-board:0": (watts, None)},
                      device_state=state)

    recs = [host(f"n{i}", w, _state(72.0)) for i, w in enumerate([500.0, 480.0, 520.0, 500.0])]
    recs.append(host("capped", 1000.0, _state(40.0, ("sw_power_cap", "hw_slowdown"))))
    (o,) = run_audit(RunSet(tuple(audit_run_from_record(r, "x") for r in recs))).outliers
    assert o.host == "capped" and o.direction == "low"
    assert "power limit 40 W (peers: 72 W)" in o.evidence
    assert "throttle reasons seen hw_slowdown, sw_power_cap (peers: none recorded)" in o.evidence
    assert not any(e.startswith(("sm clock", "temperature")) for e in o.evidence)  # the same: no evidence


def test_a_host_that_refused_the_sweep_is_a_reason_and_the_rest_is_audited(tmp_path: Path) -> None:
    refused = record("g3", state="failed", run_id="g3-run",
                     error="power-limit sweep refused on g3: gpu:0: NVML refused (Insufficient Permissions); nothing "
                           "was changed")
    runset = load_runs([write(tmp_path, [_sweep("g1"), _sweep("g2"), refused])])
    (rej,) = runset.rejected
    assert rej.host == "g3" and rej.reason.startswith("run failed: power-limit sweep refused on g3: ")
    report = run_audit(runset, AuditOptions(budget=Budget(500.0, domain="gpu-board", source="test")))
    assert report.hosts == ["g1", "g2"] and report.allocations[0].tokens_per_s == pytest.approx(1650.0)
