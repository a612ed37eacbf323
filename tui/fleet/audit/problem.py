"""The allocation problem: one operating point (or off) per host, under the fleet and group budgets.

A multiple-choice knapsack. `max_tokens` maximises the fleet's tokens/s within every budget;
`min_power` finds the least power that delivers a target tokens/s (ML.ENERGY's "lowest energy that
meets the deadline", for a fleet). Both are solved exactly by HiGHS (milp.py) or by a dynamic programme
(dp.py); `brute_force` checks them on small fleets. "Off" draws 0 W: the host is assumed switched
off or given other work, and its idle draw is not modelled.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from wattfleet.core.errors import WattfleetError

OFF = -1
TOLERANCE_W = 1e-6  # a solution may exceed a budget by float rounding only


class SolverUnavailable(WattfleetError):
    """The asked solver cannot solve this problem here (not installed, or too large); the message says what to do."""


@dataclass(frozen=True)
class Option:
    setting: str
    tokens_per_s: float
    power_w: float


@dataclass(frozen=True)
class Limit:
    """A budget: the chosen points of its member hosts (indices into Problem.hosts) draw at most limit_w."""

    name: str
    limit_w: float
    members: frozenset[int]


@dataclass(frozen=True)
class Problem:
    hosts: tuple[str, ...]
    options: tuple[tuple[Option, ...], ...]  # per host; "off" is always allowed besides these
    limits: tuple[Limit, ...] = ()

    def used_w(self, choice: Sequence[int], limit: Limit) -> float:
        return sum(self.options[h][k].power_w for h in limit.members if (k := choice[h]) != OFF)

    def tokens_per_s(self, choice: Sequence[int]) -> float:
        return sum(self.options[h][k].tokens_per_s for h, k in enumerate(choice) if k != OFF)

    def power_w(self, choice: Sequence[int]) -> float:
        return sum(self.options[h][k].power_w for h, k in enumerate(choice) if k != OFF)

    def feasible(self, choice: Sequence[int]) -> bool:
        return all(self.used_w(choice, lim) <= lim.limit_w + TOLERANCE_W for lim in self.limits)

    def with_limit(self, name: str, delta_w: float) -> Problem:
        return replace(self, limits=tuple(replace(lim, limit_w=lim.limit_w + delta_w) if lim.name == name else lim
                                          for lim in self.limits))


@dataclass(frozen=True)
class Solution:
    choice: tuple[int, ...]  # option index per host, OFF for off
    tokens_per_s: float
    power_w: float
    solver: str  # which exact method ran, with its resolution
    feasible: bool = True
    status: str = "optimal"
    slack_w: dict[str, float] = field(default_factory=dict)


def finish(problem: Problem, choice: Sequence[int], solver: str, status: str = "optimal") -> Solution:
    """A Solution with totals and slack recomputed from the choice in real watts (never from the solver)."""
    choice = tuple(choice)
    if not problem.feasible(choice):
        raise WattfleetError(f"{solver} returned a choice over a budget; this is a bug, please report it")
    return Solution(choice, problem.tokens_per_s(choice), problem.power_w(choice), solver, True, status,
                    {lim.name: lim.limit_w - problem.used_w(choice, lim) for lim in problem.limits})


def infeasible(problem: Problem, solver: str, status: str) -> Solution:
    return Solution(tuple(OFF for _ in problem.hosts), 0.0, 0.0, solver, False, status, {})


def brute_force(problem: Problem, target_tokens_per_s: float | None = None) -> Solution:
    """Every combination: max tokens/s (ties: least power), or with a target, least power reaching it."""
    best: tuple[float, float] | None = None
    best_choice: tuple[int, ...] = ()
    ranges = [range(OFF, len(opts)) for opts in problem.options]
    for choice in itertools.product(*ranges):
        if not problem.feasible(choice):
            continue
        tps, pw = problem.tokens_per_s(choice), problem.power_w(choice)
        if target_tokens_per_s is None:
            key = (-tps, pw)
        elif tps >= target_tokens_per_s - 1e-9:
            key = (pw, -tps)
        else:
            continue
        if best is None or key < best:
            best, best_choice = key, choice
    if best is None:
        return infeasible(problem, "brute force", "infeasible")
    return finish(problem, best_choice, "brute force over every combination")


def _solver(name: str) -> str:
    if name not in ("auto", "milp", "dp"):
        raise SolverUnavailable(f"unknown solver {name!r}; choose auto, milp or dp")
    if name == "auto":
        from wattfleet.tui.fleet.audit import milp

        return "milp" if milp.available() else "dp"
    return name


def max_tokens(problem: Problem, solver: str = "auto", resolution_w: float = 1.0, *,
               start: Sequence[int] | None = None, time_limit_s: float | None = None) -> Solution:
    """The most tokens/s inside every budget (exact; the MILP says so if `time_limit_s` stopped it first).

    `start`: a feasible choice the MILP may begin from (the DP does not need one)."""
    if _solver(solver) == "milp":
        from wattfleet.tui.fleet.audit import milp

        return milp.solve(problem, None, start, time_limit_s)
    from wattfleet.tui.fleet.audit import dp

    return dp.solve(problem, None, resolution_w)


def min_power(problem: Problem, target_tokens_per_s: float, solver: str = "auto", resolution_w: float = 1.0, *,
              time_limit_s: float | None = None) -> Solution:
    """The least power that delivers `target_tokens_per_s` inside every budget (exact); infeasible says so."""
    if _solver(solver) == "milp":
        from wattfleet.tui.fleet.audit import milp

        return milp.solve(problem, target_tokens_per_s, None, time_limit_s)
    from wattfleet.tui.fleet.audit import dp

    return dp.solve(problem, target_tokens_per_s, resolution_w)
