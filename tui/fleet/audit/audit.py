"""One audit: runs (from any source) + an optional budget and SLO -> an AuditReport.

`run_audit(RunSet, AuditOptions)` is the one entry: `wattfleet audit` builds the RunSet from record
files (records.load_runs), the console from the RunRecords it holds (records.runs_from_records), a
Prometheus source from a range query (AuditRuns built directly); RunSets add up with `+`. The report is
data; report_*.py render it. Nothing here changes a power limit or talks to a host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from wattfleet.core.errors import WattfleetError
from wattfleet.tui.fleet.audit import problem as prob
from wattfleet.tui.fleet.audit.budget import HEADLINE, Budget, check_groups, group_members
from wattfleet.tui.fleet.audit.compare import NOISE_RULE, Change, compare_runs
from wattfleet.tui.fleet.audit.model import ESTIMATED, AuditRun, Environment, Rejected, RunSet, Success
from wattfleet.tui.fleet.audit.outliers import OUTLIER_RULE, Outlier, find_outliers
from wattfleet.tui.fleet.audit.points import (
    ANSWERS_WORSE_RULE,
    MERGE_RULE,
    Excluded,
    OperatingPoint,
    Slo,
    eligible,
    points_from_runs,
)
from wattfleet.tui.fleet.audit.power import (
    AVG_RULE,
    GROUP_PEAK_RULE,
    PEAK_RULE,
    SUCCESS_RULE,
    TOKENS_PER_J_RULE,
    BudgetLine,
    Efficiency,
    HostPower,
    KeyTotal,
    best_success_low,
    budget_lines,
    efficiency,
    headline_keys,
    host_power,
    key_totals,
    resolve_budget_domain,
)
from wattfleet.tui.fleet.audit.stats import P95_RULE

NEXT_WATT_GROUPS = 10  # re-solves for binding group budgets, at most


@dataclass(frozen=True)
class AuditOptions:
    """What to audit against; every field has a default, so a console or a script sets only what it has."""

    budget: Budget | None = None
    slo: Slo = field(default_factory=Slo)
    target_tokens_per_s: float | None = None
    domain: str = ""  # overrides the budget's: a domain key, or "headline"
    solver: str = "auto"  # auto (HiGHS when installed, else the DP), milp, dp
    resolution_w: float = 1.0  # the DP's
    profiles: tuple[str, ...] = ()  # optimise only these profiles ( () = every profile with points)
    allocate: bool = True  # False: where the watts go only, no optimiser
    time_limit_s: float | None = 300.0  # per MILP solve; a solve stopped by it says so


@dataclass(frozen=True)
class Choice:
    host: str
    setting: str  # "off" when off
    tokens_per_s: float
    power_w: float
    success: Success | None = None
    answers_worse: bool = False


@dataclass(frozen=True)
class Allocation:
    """The optimiser's answer for one profile (max tokens/s in the budget, or least power for a target)."""

    profile: str
    objective: str
    domain: str
    solver: str
    status: str
    feasible: bool
    tokens_per_s: float
    power_w: float
    choices: tuple[Choice, ...]
    budgets: tuple[tuple[str, float, float], ...]  # (name, limit_w, slack_w)
    next_watt: tuple[tuple[str, float, float], ...]  # (budget, extra watts, extra tokens/s)
    excluded: tuple[Excluded, ...]
    n_points: int


@dataclass(frozen=True)
class AuditReport:
    sources: tuple[str, ...]
    runs: tuple[AuditRun, ...]
    rejected: tuple[Rejected, ...]
    notes: tuple[str, ...]
    power: dict[str, dict[str, HostPower]]
    efficiency: tuple[Efficiency, ...]
    totals: tuple[KeyTotal, ...]
    budget: Budget | None
    budget_domain: str | None
    budget_note: str
    budget_lines: tuple[BudgetLine, ...]
    outliers: tuple[Outlier, ...]
    points: tuple[OperatingPoint, ...]
    point_problems: tuple[Excluded, ...]
    allocations: tuple[Allocation, ...]
    allocation_note: str  # why there is no allocation (or none for some profiles), "" when there is nothing to say
    slo: Slo
    comparison: tuple[Change, ...] | None
    rules: dict[str, str]
    best_success_low: dict[str, float] = field(default_factory=dict)  # profile -> the fleet's best CI lower bound

    @property
    def hosts(self) -> list[str]:
        return sorted({r.host for r in self.runs})

    @property
    def profiles(self) -> list[str]:
        return sorted({r.profile for r in self.runs})


RULES = {
    "power_avg": AVG_RULE,
    "power_p95": f"{P95_RULE}, over the measured windows' power_avg_w (or over power samples where a source keeps "
                 "them)",
    "power_peak": PEAK_RULE,
    "group_peak": GROUP_PEAK_RULE,
    "tokens_per_j": TOKENS_PER_J_RULE,
    "outliers": OUTLIER_RULE,
    "operating_points": MERGE_RULE,
    "success": SUCCESS_RULE,
    "answers_worse": ANSWERS_WORSE_RULE,
    "off": "an unchosen host is off and counted at 0 W (its idle draw is not modelled)",
    "noise": NOISE_RULE,
    "domains": "figures are added only within one domain key (a host's GPUs add up; a GPU and a CPU never do); "
               "hosts measured only by an estimate are counted apart",
}


def _envs(runs: Sequence[AuditRun]) -> dict[tuple[str, str], Environment]:
    out: dict[tuple[str, str], Environment] = {}
    for r in sorted(runs, key=lambda r: r.started_unix_ns):  # the latest run's environment
        out[(r.host, r.profile)] = r.env
    return out


def _problem(points: Sequence[OperatingPoint], budget: Budget | None, runs: Sequence[AuditRun]) -> prob.Problem:
    hosts = tuple(sorted({p.host for p in points}))
    index = {h: i for i, h in enumerate(hosts)}
    options: list[list[prob.Option]] = [[] for _ in hosts]
    for p in points:
        options[index[p.host]].append(prob.Option(p.setting, p.tokens_per_s, p.power_w))
    limits: list[prob.Limit] = []
    if budget is not None:
        limits.append(prob.Limit("fleet", budget.fleet_w, frozenset(range(len(hosts)))))
        members = group_members(budget, runs)
        for g in budget.groups:
            limits.append(prob.Limit(g.name, g.budget_w, frozenset(index[h] for h in members[g.name] if h in index)))
    return prob.Problem(hosts, tuple(tuple(o) for o in options), tuple(limits))


def _allocate(profile: str, points: list[OperatingPoint], excluded: list[Excluded], options: AuditOptions,
              runs: Sequence[AuditRun], domain: str) -> list[Allocation]:
    ok, slo_out = eligible(points, options.slo)
    excl = tuple(excluded + slo_out)
    problem = _problem(ok, options.budget, runs)
    by_setting = {(p.host, p.setting): p for p in ok}
    out = []
    tasks: list[tuple[str, float | None]] = []
    if options.budget is not None:
        tasks.append(("max tokens/s within the budgets", None))
    if options.target_tokens_per_s is not None:
        tasks.append((f"least power for {options.target_tokens_per_s:g} tok/s", options.target_tokens_per_s))
    for objective, target in tasks:
        try:
            if target is None:
                sol = prob.max_tokens(problem, options.solver, options.resolution_w,
                                      time_limit_s=options.time_limit_s)
            else:
                sol = prob.min_power(problem, target, options.solver, options.resolution_w,
                                     time_limit_s=options.time_limit_s)
            nxt = _next_watt(problem, sol, options) if target is None else ()
        except WattfleetError as exc:  # SolverUnavailable and kin: said in the report, the rest goes on
            out.append(Allocation(profile, objective, domain, options.solver, f"not solved: {exc}", False, 0.0, 0.0,
                                  (), (), (), excl, len(points)))
            continue
        choices = tuple(
            Choice(h, "off", 0.0, 0.0) if k == prob.OFF else _choice(by_setting[(h, problem.options[i][k].setting)])
            for i, (h, k) in enumerate(zip(problem.hosts, sol.choice, strict=True)))
        budgets = tuple((lim.name, lim.limit_w, sol.slack_w.get(lim.name, 0.0)) for lim in problem.limits)
        out.append(Allocation(profile, objective, domain, sol.solver, sol.status, sol.feasible, sol.tokens_per_s,
                              sol.power_w, choices, budgets, nxt, excl, len(points)))
    return out


def _choice(p: OperatingPoint) -> Choice:
    return Choice(p.host, p.setting, p.tokens_per_s, p.power_w, p.success, p.answers_worse)


def _next_watt(problem: prob.Problem, sol: prob.Solution,
               options: AuditOptions) -> tuple[tuple[str, float, float], ...]:
    """Re-solve with one more watt (one resolution step for the DP) on the fleet and on each binding group."""
    step = 1.0 if options.solver == "milp" or "HiGHS" in sol.solver else max(1.0, options.resolution_w)
    binding = [lim.name for lim in problem.limits if lim.name != "fleet" and sol.slack_w.get(lim.name, step) < step]
    names = ["fleet", *binding[:NEXT_WATT_GROUPS]]
    out = []
    for name in names:
        if not any(lim.name == name for lim in problem.limits):
            continue
        more = prob.max_tokens(problem.with_limit(name, step), options.solver, options.resolution_w,
                               start=sol.choice, time_limit_s=options.time_limit_s)
        out.append((name, step, more.tokens_per_s - sol.tokens_per_s))
    return tuple(out)


def _counted(options: AuditOptions, headline: dict[str, str]) -> tuple[str | None, str]:
    """The domain key budgets and operating points count (HEADLINE for a labelled mixed total), and why."""
    budget = options.budget or Budget(fleet_w=0.0, source="--domain")
    if options.domain:
        budget = replace(budget, domain=options.domain, source="--domain")
    return resolve_budget_domain(budget, headline)


def run_audit(runset: RunSet, options: AuditOptions | None = None, before: RunSet | None = None) -> AuditReport:
    """The whole audit; `before`, when given, is set beside `runset` over time. Pure and synchronous (a console
    runs it in a worker). Raises ConfigError only for a budget that names a label no host has."""
    options = options or AuditOptions()
    runs = list(runset.runs)
    notes: list[str] = []
    budget = options.budget
    if budget is not None:
        notes += check_groups(budget, runs)
    power = host_power(runs)
    headline = headline_keys(runs)
    best_low = best_success_low(runs)
    effs = efficiency(runs, best_low)
    scopes: dict[str, set[str]] = {"fleet": {r.host for r in runs}}
    if budget is not None:
        scopes.update(group_members(budget, runs))
    totals = key_totals(power, scopes)
    counted, budget_note = _counted(options, headline)
    lines = budget_lines(budget, runs, power, headline, counted) if budget is not None and counted else []
    estimated_only = sorted(h for h, keys in power.items() if set(keys) == {ESTIMATED})
    if estimated_only:
        notes.append(f"{len(estimated_only)} host(s) measured only by an estimate, counted apart: "
                     + ", ".join(estimated_only[:10]) + (" ..." if len(estimated_only) > 10 else ""))
    no_power = sorted({r.host for r in runs} - set(power))
    if no_power:
        notes.append(f"{len(no_power)} host(s) with no power figure (no power source in their records): "
                     + ", ".join(no_power[:10]) + (" ..." if len(no_power) > 10 else ""))

    def key_of(host: str) -> str | None:  # without a counted key, each host's own headline (never added up)
        return headline.get(host) if counted in (None, HEADLINE) else counted

    points, point_problems = points_from_runs(runs, key_of, allow_estimated=counted == ESTIMATED, best_low=best_low)
    allocations: list[Allocation] = []
    allocation_note = ""
    if not options.allocate:
        allocation_note = "Not asked for."
    elif budget is None and options.target_tokens_per_s is None:
        allocation_note = ("Not computed: give --budget FILE (the most tokens/s within it) and/or "
                           "--target-tokens-per-s T (the least power for T).")
    elif counted is None:
        allocation_note = f"Not computed: {budget_note}."
    else:
        label = counted if counted != HEADLINE else "headline (mixed total)"
        for profile in sorted({p.profile for p in points} | {e.profile for e in point_problems}):
            if not options.profiles or profile in options.profiles:
                allocations += _allocate(profile, [p for p in points if p.profile == profile],
                                         [e for e in point_problems if e.profile == profile], options, runs, label)
        if not allocations:
            allocation_note = "Not computed: no operating point" + (
                f" of {', '.join(options.profiles)}" if options.profiles else "") + " in these records."
    return AuditReport(
        sources=tuple(sorted({r.source for r in runs} | {r.source for r in runset.rejected})),
        runs=tuple(runs), rejected=runset.rejected, notes=tuple(notes), power=power, efficiency=tuple(effs),
        totals=tuple(totals), budget=budget, budget_domain=counted, budget_note=budget_note,
        budget_lines=tuple(lines), outliers=tuple(find_outliers(effs, _envs(runs))), points=tuple(points),
        point_problems=tuple(point_problems), allocations=tuple(allocations), allocation_note=allocation_note,
        slo=options.slo,
        comparison=None if before is None else tuple(compare_runs(before.runs, runs)), rules=dict(RULES),
        best_success_low=best_low)
