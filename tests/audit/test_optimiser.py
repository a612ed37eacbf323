"""The allocation is exact: known answers worked out by hand, and brute force over every combination."""

from __future__ import annotations

import importlib.util

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audit.synth import record
from wattfleet.tui.fleet.audit import (
    AuditOptions,
    Budget,
    GroupBudget,
    Limit,
    Option,
    Problem,
    RunSet,
    Slo,
    audit_run_from_record,
    brute_force,
    max_tokens,
    min_power,
    run_audit,
)
from wattfleet.tui.fleet.audit.problem import OFF, SolverUnavailable

HAVE_HIGHS = importlib.util.find_spec("highspy") is not None
SOLVERS = ["dp", pytest.param("milp", marks=pytest.mark.skipif(not HAVE_HIGHS, reason="highspy not installed"))]

# A: rate=4 400 tok/s at 180 W, rate=8 700 at 300 W; B: 500 at 250 W, 820 at 400 W; C: 300 at 90 W.
A = (Option("rate=4", 400.0, 180.0), Option("rate=8", 700.0, 300.0))
B = (Option("rate=4", 500.0, 250.0), Option("rate=8", 820.0, 400.0))
C = (Option("rate=4", 300.0, 90.0),)


def _hand(fleet_w: float, group_w: float | None = None) -> Problem:
    limits = [Limit("fleet", fleet_w, frozenset({0, 1, 2}))]
    if group_w is not None:
        limits.append(Limit("rack=r1", group_w, frozenset({0, 1})))
    return Problem(("A", "B", "C"), (A, B, C), tuple(limits))


@pytest.mark.parametrize("solver", SOLVERS)
def test_known_answer_fleet_budget(solver: str) -> None:
    # within 600 W: A4+B8 = 580 W for 1220 tok/s beats A4+B4+C (520 W, 1200) and A8+B4 (550 W, 1200)
    sol = max_tokens(_hand(600.0), solver)
    assert sol.choice == (0, 1, OFF)
    assert (sol.tokens_per_s, sol.power_w, sol.slack_w) == (1220.0, 580.0, {"fleet": 20.0})


@pytest.mark.parametrize("solver", SOLVERS)
def test_known_answer_with_a_group_budget(solver: str) -> None:
    # rack r1 (A, B) at most 500 W: A4+B4 (430 W) with C: 1200 tok/s, 520 W in all
    sol = max_tokens(_hand(600.0, 500.0), solver)
    assert sol.choice == (0, 0, 0)
    assert (sol.tokens_per_s, sol.power_w) == (1200.0, 520.0)
    assert sol.slack_w == {"fleet": 80.0, "rack=r1": 70.0}


@pytest.mark.parametrize("solver", SOLVERS)
def test_known_answer_least_power_for_a_target(solver: str) -> None:
    # 1000 tok/s: A8+C = 390 W is the least (A4+B4 = 430 W, B8+C = 490 W)
    sol = min_power(_hand(600.0), 1000.0, solver)
    assert sol.choice == (1, OFF, 0) and sol.power_w == 390.0
    assert not min_power(_hand(600.0), 1300.0, solver).feasible


def test_brute_force_agrees_with_the_hand_answers() -> None:
    assert brute_force(_hand(600.0)).tokens_per_s == 1220.0
    assert brute_force(_hand(600.0, 500.0)).tokens_per_s == 1200.0
    assert brute_force(_hand(600.0), 1000.0).power_w == 390.0


def test_the_dp_refuses_overlapping_budgets_and_says_what_to_do() -> None:
    p = Problem(("a", "b", "c"), (C, C, C), (Limit("rack=r1", 100.0, frozenset({0, 1})),
                                              Limit("device_model=X", 100.0, frozenset({1, 2}))))
    with pytest.raises(SolverUnavailable, match=r"neither contains the other.*install highspy"):
        max_tokens(p, "dp")


def test_the_dp_at_a_coarse_resolution_fits_the_real_budget() -> None:
    p = Problem(("a", "b"), ((Option("x", 10.0, 95.5), Option("y", 14.0, 149.2)), (Option("x", 10.0, 95.5),)),
                (Limit("fleet", 245.0, frozenset({0, 1})),))
    sol = max_tokens(p, "dp", resolution_w=10.0)
    # rounded up: 100 and 150 W; 150 + 100 = 250 > 240 (the budget rounded down): y alone or x + x
    assert sol.tokens_per_s == 20.0 and sol.power_w == 191.0 and "10 W" in sol.solver
    assert brute_force(p).tokens_per_s == 24.0  # real watts fit y + x (244.7 W): the resolution is stated


# ---- random small fleets against brute force -----------------------------------------------------

@st.composite
def problems(draw: st.DrawFn) -> Problem:
    n = draw(st.integers(1, 5))
    options = tuple(
        tuple(Option(f"s{k}", float(draw(st.integers(0, 60))), float(draw(st.integers(1, 50))))
              for k in range(draw(st.integers(0, 3))))
        for _ in range(n))
    limits = [Limit("fleet", float(draw(st.integers(0, 150))), frozenset(range(n)))]
    for g in range(draw(st.integers(0, 2))):
        members = frozenset(draw(st.sets(st.integers(0, n - 1), min_size=1)))
        limits.append(Limit(f"g{g}", float(draw(st.integers(0, 100))), members))
    return Problem(tuple(f"h{i}" for i in range(n)), options, tuple(limits))


def _laminar(p: Problem) -> bool:
    return all(not (a.members & b.members) or a.members <= b.members or b.members <= a.members
               for a in p.limits for b in p.limits)


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 150))
def test_random_fleets_match_brute_force(p: Problem, target: int) -> None:
    best = brute_force(p)
    least = brute_force(p, float(target))
    solvers = (["milp"] if HAVE_HIGHS else []) + (["dp"] if _laminar(p) else [])
    for solver in solvers:
        sol = max_tokens(p, solver)
        assert sol.tokens_per_s == pytest.approx(best.tokens_per_s), solver
        assert p.feasible(sol.choice)
        rev = min_power(p, float(target), solver)
        assert rev.feasible == least.feasible, solver
        if least.feasible:
            assert rev.power_w == pytest.approx(least.power_w), solver
            assert rev.tokens_per_s >= target - 1e-9


# ---- through the audit: SLO, validity, the next watt ---------------------------------------------

def _fleet_runs() -> RunSet:
    rows = [("A", 4, 400.0, 180.0, 50.0, True), ("A", 8, 700.0, 300.0, 120.0, True),
            ("B", 4, 500.0, 250.0, 60.0, True), ("B", 8, 820.0, 400.0, 300.0, True),  # B8 misses a 200 ms SLO
            ("C", 4, 300.0, 90.0, 40.0, True), ("C", 8, 600.0, 150.0, 80.0, False)]  # C8 is not valid
    recs = [record(h, rate_qps=r, tokens_per_s=t, power={"gpu-board:0": (w, w)}, ttft_p99_ms=ttft, valid=v,
                   labels={"rack": "r1" if h != "C" else "r2"}) for h, r, t, w, ttft, v in rows]
    return RunSet(tuple(audit_run_from_record(r, "x") for r in recs))


@pytest.mark.parametrize("solver", SOLVERS)
def test_audit_allocation_respects_slo_and_validity(solver: str) -> None:
    report = run_audit(_fleet_runs(), AuditOptions(budget=Budget(579.0), slo=Slo(ttft_p99_ms=200.0), solver=solver))
    (alloc,) = report.allocations
    # eligible: A4, A8, B4, C4. Within 579 W: A8 + B4 = 550 W for 1200; A4 + B4 + C4 = 520 W for 1200
    assert alloc.tokens_per_s == 1200.0
    assert {(e.host, e.setting): e.reason for e in alloc.excluded} == {
        ("B", "rate=8"): "p99 TTFT 300 ms > 200 ms", ("C", "rate=8"): "run not valid"}
    assert alloc.feasible and ("HiGHS" in alloc.solver) == (solver == "milp")


@pytest.mark.parametrize("solver", SOLVERS)
def test_audit_names_what_the_next_watt_buys(solver: str) -> None:
    report = run_audit(_fleet_runs(), AuditOptions(budget=Budget(579.0), solver=solver))
    (alloc,) = report.allocations
    # without the SLO, B8 is eligible: A4+B8 = 580 W for 1220 needs one more watt
    assert alloc.tokens_per_s == 1200.0
    assert alloc.next_watt == (("fleet", 1.0, pytest.approx(20.0)),)


@pytest.mark.parametrize("solver", SOLVERS)
def test_audit_with_group_budgets_sharing_a_host(solver: str) -> None:
    budget = Budget(1000.0, (GroupBudget("rack", "r1", 500.0), GroupBudget("device_model", "NVIDIA H100", 450.0)))
    report = run_audit(_fleet_runs(), AuditOptions(budget=budget, solver=solver))
    (alloc,) = report.allocations
    if solver == "dp":  # every host is an H100 here, so the groups nest: the DP can do it
        assert alloc.feasible
    assert {name: limit - slack for name, limit, slack in alloc.budgets}["device_model=NVIDIA H100"] <= 450.0
    # hand: every host is in the 450 W device budget: A8 + C4 = 390 W for 1000 beats A4 + B4 (430 W, 900),
    # B8 (400 W, 820) and B4 + C4 (340 W, 800); A4 + B4 + C4 would need 520 W
    assert alloc.tokens_per_s == 1000.0


def test_overlapping_groups_without_the_milp_are_said_in_the_report() -> None:
    runs = list(_fleet_runs().runs)
    runs.append(audit_run_from_record(record("D", device="NVIDIA A100", labels={"rack": "r1"}), "x"))
    budget = Budget(1000.0, (GroupBudget("rack", "r1", 500.0), GroupBudget("device_model", "NVIDIA H100", 450.0)))
    (alloc,) = run_audit(RunSet(tuple(runs)), AuditOptions(budget=budget, solver="dp")).allocations
    assert not alloc.feasible and alloc.status.startswith("not solved: budgets")
    if HAVE_HIGHS:  # the MILP solves it: D (1000 tok/s at 300 W) shares rack r1 with A and B
        (alloc,) = run_audit(RunSet(tuple(runs)), AuditOptions(budget=budget, solver="milp")).allocations
        chosen = {c.host: c.setting for c in alloc.choices}
        # rack r1 <= 500 W and H100s <= 450 W: D (300 W) + C4 (90 W) + nothing else in r1 fits 200 W more:
        # A4 (180 W) -> r1 480 W, H100s 270 W: 1000 + 300 + 400 = 1700
        assert alloc.tokens_per_s == 1700.0 and chosen == {"A": "rate=4", "B": "off", "C": "rate=4", "D": "rate=8"}
