"""Where the watts go, on a synthetic fleet with the edge cases, against values worked out by hand.

The fleet (gpu-board unless said):
  h1  rack r1, NVIDIA H100, two GPUs; run A 10 s at 200+100 W (peaks 250+150),
      run B 30 s at 240+120 W (peaks 280+150)
  h2  rack r1, NVIDIA A100, 500 W (peak 600)
  h3  rack r2, NVIDIA H100, 200 W (peak 220) and cpu-package 100 W (peak 110): mixed domains on one host
  h4  rack r2, a CPU host: cpu-package 150 W (peak 160)
  h5  rack r2, no power source at all
  h6  rack r2, only an estimate: 50 W (peak 60)
Budget: fleet 1000 W; rack r1 800 W; rack r2 300 W; device_model NVIDIA H100 600 W (h1 is in two groups).
"""

from __future__ import annotations

import pytest

from tests.audit.synth import CPU, record
from wattfleet.tui.fleet.audit import AuditOptions, Budget, GroupBudget, RunSet, audit_run_from_record, run_audit
from wattfleet.tui.fleet.audit.audit import AuditReport


def _fleet() -> RunSet:
    r1, r2 = {"rack": "r1"}, {"rack": "r2"}
    recs = [
        record("h1", labels=r1, duration_s=10.0, tokens_per_s=3000.0,
               power={"gpu-board:0": (200.0, 250.0), "gpu-board:1": (100.0, 150.0)}),
        record("h1", labels=r1, duration_s=30.0, tokens_per_s=3000.0, started_unix_ns=2,
               power={"gpu-board:0": (240.0, 280.0), "gpu-board:1": (120.0, 150.0)}),
        record("h2", labels=r1, device="NVIDIA A100", power={"gpu-board:0": (500.0, 600.0)}),
        record("h3", labels=r2, power={"gpu-board:0": (200.0, 220.0), "cpu-package": (100.0, 110.0)}),
        record("h4", labels=r2, provider=CPU, device="AMD EPYC", power={"cpu-package": (150.0, 160.0)}),
        record("h5", labels=r2, power={}),
        record("h6", labels=r2, provider=CPU, device="AMD EPYC", power={"estimated": (50.0, 60.0)}),
    ]
    return RunSet(tuple(audit_run_from_record(r, f"r{i}.json") for i, r in enumerate(recs)))


def _budget(domain: str = "gpu-board") -> Budget:
    return Budget(1000.0, (GroupBudget("rack", "r1", 800.0), GroupBudget("rack", "r2", 300.0),
                           GroupBudget("device_model", "NVIDIA H100", 600.0)), domain=domain, source="budget.toml")


def _audit(domain: str = "gpu-board") -> AuditReport:
    return run_audit(_fleet(), AuditOptions(budget=_budget(domain)))


def test_per_host_power_over_runs() -> None:
    h1 = _audit().power["h1"]["gpu-board"]
    assert h1.n_runs == 2
    assert h1.avg_w == pytest.approx((300 * 10 + 360 * 30) / 40)  # 345: weighted by window
    assert (h1.p95_w, h1.p95_over) == (360.0, "windows")  # nearest rank of [300, 360]
    assert h1.peak_w == 430.0  # run B: 280 + 150
    report = _audit()
    assert set(report.power["h3"]) == {"gpu-board", "cpu-package"}
    assert "h5" not in report.power
    assert set(report.power["h6"]) == {"estimated"}


def test_each_sweep_level_is_a_window_of_its_own() -> None:
    levels = [record("s", rate_qps=4, duration_s=10.0, power={"gpu-board:0": (100.0, 120.0)}, run_id="s/rate=4"),
              record("s", rate_qps=8, duration_s=30.0, power={"gpu-board:0": (200.0, 230.0)}, run_id="s/rate=8")]
    parent = record("s", rate_qps=8, duration_s=30.0, power={"gpu-board:0": (200.0, 230.0)}, sweep=levels)
    hp = run_audit(RunSet((audit_run_from_record(parent, "x"),))).power["s"]["gpu-board"]
    # not the parent's copy of its peak level: (100 W x 10 s + 200 W x 30 s) / 40 s
    assert (hp.n_runs, hp.avg_w, hp.p95_w, hp.p95_over, hp.peak_w) == (2, 175.0, 200.0, "windows", 230.0)


def test_totals_add_only_within_a_domain_key() -> None:
    totals = {(t.scope, t.key): t for t in _audit().totals}
    assert totals[("fleet", "gpu-board")].avg_w == pytest.approx(345 + 500 + 200)
    assert totals[("fleet", "gpu-board")].n_hosts == 3
    assert totals[("fleet", "cpu-package")].avg_w == pytest.approx(100 + 150)
    assert totals[("fleet", "estimated")].avg_w == pytest.approx(50)
    assert totals[("fleet", "gpu-board")].peak_sum_w == pytest.approx(430 + 600 + 220)
    assert totals[("rack=r2", "cpu-package")].avg_w == pytest.approx(250)
    assert {key for scope, key in totals if scope == "fleet"} == {"gpu-board", "cpu-package", "estimated"}


def test_headroom_over_budget_and_a_host_in_two_groups() -> None:
    lines = {b.name: b for b in _audit().budget_lines}
    fleet = lines["fleet"]
    assert fleet.avg_w == pytest.approx(1045.0) and fleet.headroom_w == pytest.approx(-45.0)
    assert fleet.status == "over"
    assert fleet.peak_headroom_w == pytest.approx(1000 - 1250)
    assert dict(fleet.not_counted) == {
        "h4": "no gpu-board power figure (has cpu-package)",
        "h5": "no power figure (no power source in its records)",
    }
    assert fleet.estimated_hosts == ("h6",) and fleet.estimated_w == pytest.approx(50)
    r1 = lines["rack=r1"]
    assert r1.hosts == ("h1", "h2") and r1.headroom_w == pytest.approx(800 - 845) and r1.status == "over"
    r2 = lines["rack=r2"]
    assert r2.hosts == ("h3",) and r2.headroom_w == pytest.approx(100.0) and r2.status == "ok"
    h100 = lines["device_model=NVIDIA H100"]
    assert h100.hosts == ("h1", "h3")  # h1 counts in its rack and in its device model
    assert h100.headroom_w == pytest.approx(600 - 545)
    assert h100.status == "at risk (peaks)"  # 430 + 220 = 650 > 600


def test_mixed_total_only_when_asked_and_labelled() -> None:
    auto = run_audit(_fleet(), AuditOptions(budget=_budget(domain="")))
    assert auto.budget_domain is None and auto.budget_lines == ()
    assert "headline domains differ (cpu-package: 1 host(s), gpu-board: 3 host(s))" in auto.budget_note
    assert auto.allocations == () and auto.allocation_note.startswith("Not computed: the hosts' headline domains")
    mixed = {b.name: b for b in _audit(domain="headline").budget_lines}["fleet"]
    assert mixed.avg_w == pytest.approx(345 + 500 + 200 + 150)
    assert mixed.domain == "headline, mixed total: cpu-package (1) + gpu-board (3)"
    assert mixed.estimated_hosts == ("h6",)  # an estimate stays apart even in a mixed total


def test_tokens_per_j_pooled_over_runs() -> None:
    eff = {(e.host, e.profile): e for e in _audit().efficiency}
    h1 = eff[("h1", "decoder-server")]
    # headline gpu-board:0: 3000 tok/s x 10 s / (200 W x 10 s) and 3000 x 30 / (240 x 30)
    assert h1.tokens_per_j == pytest.approx((30000 + 90000) / (2000 + 7200))
    assert h1.j_per_token == pytest.approx(9200 / 120000)
    assert h1.domain == "gpu-board:0"
    assert eff[("h5", "decoder-server")].tokens_per_j is None
    assert eff[("h6", "decoder-server")].estimated


def _peers(values: list[float], **extra: object) -> RunSet:
    recs = [record(f"n{i}", device="NVIDIA L4", tokens_per_s=1000.0, power={"gpu-board:0": (1000.0 / v, None)},
                   power_limit_w=72.0, **extra) for i, v in enumerate(values)]  # type: ignore[arg-type]
    return RunSet(tuple(audit_run_from_record(r, "x") for r in recs))


def test_outlier_by_modified_z_with_its_evidence() -> None:
    runs = list(_peers([2.0, 2.1, 1.9, 2.0]).runs)
    odd = record("n9", device="NVIDIA L4", tokens_per_s=1000.0, power={"gpu-board:0": (1000.0, None)},
                 power_limit_w=60.0, throttle=("sw_power_cap",), precision="fp32")
    runs.append(audit_run_from_record(odd, "x"))
    (o,) = run_audit(RunSet(tuple(runs))).outliers
    # median 2.0; |deviations| 0, 0.1, 0.1, 0, 1.0 -> MAD 0.1; z = 0.6745 x (1.0 - 2.0) / 0.1
    assert (o.host, o.direction, o.peer_median, o.n_peers) == ("n9", "low", 2.0, 5)
    assert o.z == pytest.approx(-6.745)
    assert "precision fp32 (peers: fp16)" in o.evidence
    assert "power limit 60 W (peers: 72 W)" in o.evidence
    assert "throttle reasons seen sw_power_cap (peers: none recorded)" in o.evidence
    assert "not in the records: driver, clocks, temperature" in o.evidence


def test_outlier_evidence_from_the_device_state_the_agent_recorded() -> None:
    def state(limit: float, sm: float, temp: float, *seen: str) -> dict[str, object]:
        return {"start": {"power_limit_w": limit, "sm_clock_mhz": 300.0, "temperature_c": 40.0},
                "end": {"power_limit_w": limit, "sm_clock_mhz": sm, "temperature_c": temp,
                        "throttle_reasons": list(seen)}}

    peers = [(2.0, state(72.0, 2040.0, 70.0)), (2.1, state(72.0, 2010.0, 71.0)), (1.9, state(72.0, 1995.0, 69.0)),
             (2.0, state(72.0, 2025.0, 72.0))]
    recs = [record(f"n{i}", device="NVIDIA L4", tokens_per_s=1000.0, power={"gpu-board:0": (1000.0 / v, None)},
                   device_state=st) for i, (v, st) in enumerate(peers)]
    recs.append(record("hot", device="NVIDIA L4", tokens_per_s=1000.0, power={"gpu-board:0": (1000.0, None)},
                       device_state=state(72.0, 1200.0, 88.0, "hw_thermal_slowdown", "sw_thermal_slowdown")))
    (o,) = run_audit(RunSet(tuple(audit_run_from_record(r, "x") for r in recs))).outliers
    assert o.host == "hot"
    # the clock and temperature under load (end), against the peers' medians (2017.5 MHz, 70.5 °C)
    assert "sm clock 1200 MHz (peers: 2017.5 MHz)" in o.evidence
    assert "temperature 88 °C (peers: 70.5 °C)" in o.evidence
    assert "throttle reasons seen hw_thermal_slowdown, sw_thermal_slowdown (peers: none recorded)" in o.evidence
    assert not any(e.startswith("power limit") for e in o.evidence)  # the same limit is no evidence


def test_a_shared_domain_takes_no_part_in_outliers() -> None:
    runs = list(_peers([2.0, 2.1, 1.9, 2.0]).runs)
    runs.append(audit_run_from_record(record("busy", device="NVIDIA L4", tokens_per_s=1000.0, shared=("gpu-board:0",),
                                             power={"gpu-board:0": (1000.0, None)}), "x"))
    report = run_audit(RunSet(tuple(runs)))
    assert report.outliers == ()
    assert next(e for e in report.efficiency if e.host == "busy").shared


def test_outlier_when_mad_is_zero_and_not_for_a_tiny_spread() -> None:
    (o,) = run_audit(_peers([3.0] * 9 + [2.5])).outliers
    # MAD 0: mean absolute deviation 0.05 stands in; z = -0.5 / (1.253314 x 0.05)
    assert o.host == "n9" and o.z == pytest.approx(-0.5 / (1.253314 * 0.05))
    assert run_audit(_peers([3.0] * 9 + [2.95])).outliers == ()  # 1.7% from the median: not named


def test_no_outlier_among_fewer_than_three_peers_or_across_domains() -> None:
    assert run_audit(_peers([2.0, 1.0])).outliers == ()
    runs = list(_peers([2.0, 2.0, 2.0]).runs)
    cpu = record("c", device="NVIDIA L4", tokens_per_s=1000.0, provider=CPU, power={"cpu-package": (1000.0, None)})
    runs.append(audit_run_from_record(cpu, "x"))  # tokens/J of 1.0 but in another domain
    assert run_audit(RunSet(tuple(runs))).outliers == ()
