"""The Pareto view's data: one point per (host, profile), and the frontier of efficient-and-fast points. Pure.

x is a latency (p99 TTFT or TPOT, ms, lower is better); y is an efficiency figure (tokens/J, or another
heatmap metric in its own direction) or, where records carry task success, the success rate. Points that
are not valid or failed their quality check are kept on the plot, marked, and never on the frontier.

Energy figures of different domain kinds are never compared: a frontier is computed within one kind at a
time (gpu-board, soc-input, estimated, ...; `kinds()` lists them, most points first). A task success rate
has no domain, so all its points share one frontier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from wattfleet.core.model import RunRecord, domain_kind, is_estimate
from wattfleet.tui.fleet.heatmap import METRICS, Metric, metric_figure
from wattfleet.tui.fleet.model import HEADLINE_KINDS, HostView

LATENCIES = ("ttft_p99", "tpot_p99")
SUCCESS = Metric("success_rate", "task success rate", "", True)


@dataclass(frozen=True)
class ParetoPoint:
    host: str
    profile: str
    x: float  # latency, ms
    y: float
    ok: bool  # valid, completed and passed its quality check: may be on the frontier
    reason: str  # why not ok ("" when ok)
    domain: str = ""
    estimated: bool = False
    low_confidence: bool = False
    run_id: str = ""

    @property
    def name(self) -> str:
        return f"{self.host}/{self.profile}"

    @property
    def kind(self) -> str:
        """The domain kind of y ("" for a figure without a domain, such as the success rate)."""
        return domain_kind(self.domain) if self.domain else ""


def y_value(record: RunRecord, y: Metric) -> tuple[float | None, str, bool]:
    """(value, domain, low confidence) of the y figure in a record."""
    if y.name == "success_rate":
        if record.task is not None and record.task.success_rate is not None:
            return record.task.success_rate, "", False
        f = record.figure("success_rate")
        return (None if f is None else f.value), "", False
    f = metric_figure(record, y.name)
    return (None, "", False) if f is None else (f.value, f.domain, f.low_confidence)


def has_success(hosts: Sequence[HostView]) -> bool:
    """Whether any record on screen carries a task success rate (then it can go on an axis)."""
    return any(y_value(r, SUCCESS)[0] is not None for h in hosts for r in h.results.values())


def points(hosts: Sequence[HostView], latency: str = "ttft_p99", y: Metric | str = "tokens_per_j") -> list[ParetoPoint]:
    ym = (SUCCESS if y == "success_rate" else METRICS[y]) if isinstance(y, str) else y
    out: list[ParetoPoint] = []
    for host in hosts:
        for profile, record in sorted(host.results.items()):
            lat = record.figure(latency)
            value, domain, low = y_value(record, ym)
            if lat is None or lat.value is None or value is None:
                continue
            reason = ""
            if record.state != "completed":
                reason = f"run {record.state}"
            elif not record.validity.valid:
                reason = "not valid: " + ("; ".join(record.validity.reasons) or "checks not met")
            elif record.quality and record.quality.get("flagged"):
                reason = "quality check failed"
            out.append(ParetoPoint(host.label, profile, lat.value, value, not reason, reason, domain,
                                   bool(domain) and is_estimate(domain), low or lat.low_confidence, record.run_id))
    return out


def kinds(pts: Sequence[ParetoPoint]) -> list[str]:
    """The domain kinds of the points, the one with most points first (ties in METRICS.md's headline order)."""
    counts = Counter(p.kind for p in pts)
    order = {k: i for i, k in enumerate(HEADLINE_KINDS)}
    return sorted(counts, key=lambda k: (-counts[k], order.get(k, len(order)), k))


def of_kind(pts: Sequence[ParetoPoint], kind: str) -> list[ParetoPoint]:
    """The points measured in one domain kind: the only ones a frontier compares."""
    return [p for p in pts if p.kind == kind]


def frontier(pts: Sequence[ParetoPoint], y_higher_is_better: bool = True) -> list[int]:
    """Indices of the ok points no other ok point dominates (lower-or-equal x and better-or-equal y, one
    strictly), ordered by x."""
    def better_y(a: float, b: float) -> bool:
        return a > b if y_higher_is_better else a < b

    ok = [i for i, p in enumerate(pts) if p.ok]
    front: list[int] = []
    for i in ok:
        p = pts[i]
        dominated = any(
            (q.x <= p.x and (better_y(q.y, p.y) or q.y == p.y)) and (q.x < p.x or better_y(q.y, p.y))
            for j in ok if j != i for q in (pts[j],)
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (pts[i].x, pts[i].name))
