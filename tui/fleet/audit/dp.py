"""The allocation by an exact dynamic programme over watts, at a stated resolution.

Powers are rounded UP to the resolution (1 W by default), budgets down, so every answer fits the real
budgets; the optimum is exact for the rounded powers. Budgets must be nested or disjoint (a laminar
family: fleet > site > rack, or racks that partition the fleet); each budget is a node of a tree and
F_node[w] = the most tokens/s its hosts deliver within w units, built bottom-up: a host is a
multiple-choice step, a sub-budget a max-plus convolution over the points where its F rises. Budgets
that overlap otherwise (a rack and a device model sharing some hosts) need the MILP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wattfleet.tui.fleet.audit.problem import OFF, Limit, Problem, Solution, SolverUnavailable, finish, infeasible

MAX_TABLE_BYTES = 512 * 1024 * 1024
Array = npt.NDArray[np.float64]


def label(resolution_w: float) -> str:
    return f"dynamic programme (exact for powers rounded up to {resolution_w:g} W)"


@dataclass
class _Node:
    limit: Limit | None  # None: the root, which has no budget of its own
    members: frozenset[int]
    children: list[_Node] = field(default_factory=list)
    cap: int = 0
    items: list[tuple[str, int, npt.NDArray[np.int32]]] = field(default_factory=list)  # ("host"|"child", i, arg)


def _tree(problem: Problem) -> _Node:
    limits = sorted(problem.limits, key=lambda lim: (-len(lim.members), lim.limit_w, lim.name))
    for i, a in enumerate(limits):
        for b in limits[i + 1:]:
            if a.members & b.members and not (b.members <= a.members):
                raise SolverUnavailable(
                    f"budgets {a.name} and {b.name} share some hosts but neither contains the other; the exact "
                    "dynamic programme handles nested or disjoint budgets only: install highspy "
                    "(pip install 'wattfleet[audit]') for the MILP")
    root = _Node(None, frozenset(range(len(problem.hosts))))
    placed: list[_Node] = [root]
    for lim in limits:
        node = _Node(lim, lim.members)
        parent = next(p for p in reversed(placed) if lim.members <= p.members)
        parent.children.append(node)
        placed.append(node)
    return root


def _caps(node: _Node, units: list[list[int]], parent_cap: int, resolution_w: float) -> None:
    most = sum(max(units[h], default=0) for h in node.members)
    own = most if node.limit is None else math.floor(node.limit.limit_w / resolution_w + 1e-9)
    node.cap = max(0, min(own, parent_cap, most))
    for child in node.children:
        _caps(child, units, node.cap, resolution_w)


def _table_bytes(node: _Node) -> int:
    direct = len(node.members - frozenset().union(*(c.members for c in node.children)))
    return (direct + len(node.children)) * 4 * (node.cap + 1) + sum(_table_bytes(c) for c in node.children)


def _build(node: _Node, problem: Problem, units: list[list[int]]) -> Array:
    size = node.cap + 1
    f: Array = np.zeros(size, dtype=np.float64)
    in_child = frozenset().union(*(c.members for c in node.children))
    for h in sorted(node.members - in_child):
        best = f.copy()
        arg = np.full(size, OFF, dtype=np.int32)
        for k, (u, opt) in enumerate(zip(units[h], problem.options[h], strict=True)):
            if u >= size:
                continue
            cand = np.full(size, -np.inf)
            cand[u:] = f[: size - u] + opt.tokens_per_s
            better = cand > best
            best[better] = cand[better]
            arg[better] = k
        node.items.append(("host", h, arg))
        f = best
    for ci, child in enumerate(node.children):
        g = _build(child, problem, units)
        best = f + g[0]  # the child at 0 units (it may have 0 W options)
        arg = np.zeros(size, dtype=np.int32)
        rises = [int(r) for r in np.nonzero(g[1:] > g[:-1])[0] + 1]
        for u in rises:
            cand = np.full(size, -np.inf)
            cand[u:] = f[: size - u] + g[u]
            better = cand > best
            best[better] = cand[better]
            arg[better] = u
        node.items.append(("child", ci, arg))
        f = best
    return f


def _back(node: _Node, w: int, problem: Problem, units: list[list[int]], choice: list[int]) -> None:
    for kind, i, arg in reversed(node.items):
        a = int(arg[w])
        if kind == "host":
            if a != OFF:
                choice[i] = a
                w -= units[i][a]
        else:
            _back(node.children[i], a, problem, units, choice)
            w -= a


def solve(problem: Problem, target_tokens_per_s: float | None, resolution_w: float = 1.0) -> Solution:
    """Max tokens/s (target None) or the least power reaching the target, exact at `resolution_w`."""
    if not resolution_w > 0:
        raise SolverUnavailable(f"the resolution must be positive watts, got {resolution_w:g}")
    units = [[math.ceil(o.power_w / resolution_w - 1e-9) for o in opts] for opts in problem.options]
    root = _tree(problem)
    _caps(root, units, 2**62, resolution_w)
    need = _table_bytes(root)
    if need > MAX_TABLE_BYTES:
        raise SolverUnavailable(
            f"the dynamic programme at {resolution_w:g} W would need {need / 2**20:.0f} MiB of tables; give a "
            "coarser --resolution-w, or install highspy (pip install 'wattfleet[audit]') for the MILP")
    f = _build(root, problem, units)
    if target_tokens_per_s is None:
        w = root.cap
    else:
        reach = np.nonzero(f >= target_tokens_per_s - 1e-9 * max(1.0, abs(target_tokens_per_s)))[0]
        if len(reach) == 0:
            return infeasible(problem, label(resolution_w), "infeasible: no choice reaches the target within the "
                                                            "budgets")
        w = int(reach[0].item())
    choice = [OFF] * len(problem.hosts)
    _back(root, w, problem, units, choice)
    return finish(problem, choice, label(resolution_w))
