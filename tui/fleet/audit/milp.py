"""The allocation as a 0-1 integer programme, solved exactly by HiGHS through highspy (optional).

x[h,k] = 1 when host h runs option k. Each host: sum_k x[h,k] <= 1 (0 = off). Each budget:
sum over its hosts of power[h,k] x[h,k] <= limit. Maximise sum tokens[h,k] x[h,k]; or, with a
target, minimise sum power[h,k] x[h,k] subject to sum tokens[h,k] x[h,k] >= target. The MIP gap is
set to 0, so "optimal" is proven optimal; the watts are real (no rounding).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from wattfleet.tui.fleet.audit.problem import OFF, Problem, Solution, SolverUnavailable, finish, infeasible

_quieted = False


def available() -> bool:
    return importlib.util.find_spec("highspy") is not None


def label() -> str:
    try:
        v = version("highspy")
    except PackageNotFoundError:  # pragma: no cover - installed without metadata
        v = "?"
    return f"HiGHS MILP (highspy {v}; exact, MIP gap 0, real watts)"


def _new_highs(highspy: Any) -> Any:
    """A silent Highs. Its constructor prints a banner on stdout once per process: keep it off our output."""
    global _quieted
    if not _quieted:
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            h = highspy.Highs()
            try:
                ctypes.CDLL(None).fflush(None)  # flush C stdio while it still points at /dev/null
            except (OSError, AttributeError):  # pragma: no cover - no libc symbols (not Linux)
                pass
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
        _quieted = True
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    return h


def solve(problem: Problem, target_tokens_per_s: float | None, start: Sequence[int] | None = None,
          time_limit_s: float | None = None) -> Solution:
    """Max tokens/s (target None) or least power for the target; exact unless `time_limit_s` stops it first.

    `start` is a feasible choice to begin from (the answer to a smaller budget, when asking about one
    more watt); a solve stopped by the time limit says how far from proven optimal its answer may be."""
    try:
        import highspy
    except ImportError as exc:
        raise SolverUnavailable("the MILP solver needs highspy: pip install 'wattfleet[audit]', or use --solver dp"
                                ) from exc
    cols = [(h, k) for h, opts in enumerate(problem.options) for k in range(len(opts))]
    if not cols:
        if target_tokens_per_s is not None and target_tokens_per_s > 0:
            return infeasible(problem, label(), "infeasible: no eligible operating point")
        return finish(problem, [OFF] * len(problem.hosts), label())
    inf = highspy.kHighsInf
    # rows: one per host, one per budget, and the target row when minimising power
    rows_lo: list[float] = []
    rows_hi: list[float] = []
    row_of_host = {}
    for h, opts in enumerate(problem.options):
        if opts:
            row_of_host[h] = len(rows_lo)
            rows_lo.append(-inf)
            rows_hi.append(1.0)
    limit_rows = []
    for lim in problem.limits:
        limit_rows.append(len(rows_lo))
        rows_lo.append(-inf)
        rows_hi.append(lim.limit_w)
    target_row = -1
    if target_tokens_per_s is not None:
        target_row = len(rows_lo)
        rows_lo.append(target_tokens_per_s)
        rows_hi.append(inf)
    members = [[i for i, lim in enumerate(problem.limits) if h in lim.members] for h in range(len(problem.hosts))]
    col_start, index, value, cost = [0], [], [], []
    for h, k in cols:
        opt = problem.options[h][k]
        entries = [(row_of_host[h], 1.0)] + [(limit_rows[i], opt.power_w) for i in members[h]]
        if target_row >= 0:
            entries.append((target_row, opt.tokens_per_s))
        for r, v in entries:
            index.append(r)
            value.append(v)
        col_start.append(len(index))
        cost.append(opt.tokens_per_s if target_row < 0 else opt.power_w)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cols), len(rows_lo)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, [0.0] * len(cols), [1.0] * len(cols)
    lp.row_lower_, lp.row_upper_ = rows_lo, rows_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = col_start, index, value
    lp.integrality_ = [highspy.HighsVarType.kInteger] * len(cols)
    lp.sense_ = highspy.ObjSense.kMaximize if target_row < 0 else highspy.ObjSense.kMinimize
    h = _new_highs(highspy)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    h.passModel(lp)
    if start is not None and problem.feasible(start):
        warm = highspy.HighsSolution()
        warm.col_value = [1.0 if start[host] == k else 0.0 for host, k in cols]
        warm.value_valid = True
        h.setSolution(warm)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return infeasible(problem, label(), "infeasible: no choice reaches the target within the budgets")
    stopped = status == highspy.HighsModelStatus.kTimeLimit and h.getInfo().primal_solution_status == 2
    if status != highspy.HighsModelStatus.kOptimal and not stopped:
        return infeasible(problem, label(), f"not solved: HiGHS says {h.modelStatusToString(status)}")
    x = list(h.getSolution().col_value)
    choice = [OFF] * len(problem.hosts)
    for (host, k), v in zip(cols, x, strict=True):
        if v > 0.5:
            choice[host] = k
    if stopped:
        gap = h.getInfo().mip_gap
        return finish(problem, choice, label(), f"NOT proven optimal: stopped at the {time_limit_s:g} s time limit, "
                                                f"within {gap:.3%} of the best bound")
    return finish(problem, choice, label())
