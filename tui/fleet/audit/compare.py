"""Over time: the same hosts and profiles in two sets of runs, side by side.

A change is named a regression (or an improvement) only when it is larger than the run-to-run noise
the records themselves show: NOISE_RULE. Without repeated runs the noise is unknown, and nothing is named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from wattfleet.tui.fleet.audit.model import AuditRun
from wattfleet.tui.fleet.audit.stats import median, relative_range

NOISE_RULE = ("noise = the larger relative range (max - min) / median of the repeated runs of that profile on "
              "that host, before or after; a change beyond it is named, one within it is not")

_Getter = Callable[[AuditRun], float | None]
# (name, unit, +1 when higher is better, -1 when lower is better, 0 when neither)
METRICS: tuple[tuple[str, str, int, _Getter], ...] = (
    ("tokens_per_j", "tokens/J", 1, lambda r: r.headline.tokens_per_j if r.headline else None),
    ("tokens_per_s", "tok/s", 1, lambda r: r.tokens_per_s),
    ("ttft_p99", "ms", -1, lambda r: r.ttft_p99_ms),
    ("power_avg_w", "W", 0, lambda r: r.headline.power_avg_w if r.headline else None),
)
_ENERGY = ("tokens_per_j", "power_avg_w")


@dataclass(frozen=True)
class Change:
    host: str
    profile: str
    metric: str
    unit: str
    domain: str  # the headline domain for energy figures, "" otherwise
    before: float
    after: float
    n_before: int
    n_after: int
    noise_rel: float | None
    verdict: str  # "regression", "improvement", "changed", "within noise", "noise unknown", "not compared: ..."

    @property
    def change_rel(self) -> float | None:
        return None if self.before == 0 else (self.after - self.before) / abs(self.before)


def _verdict(before: list[float], after: list[float], sign: int) -> tuple[float | None, str]:
    noises = [n for n in (relative_range(before), relative_range(after)) if n is not None]
    if not noises:
        return None, "noise unknown"
    noise = max(noises)
    b, a = median(before), median(after)
    rel = (a - b) / abs(b) if b else float("inf") if a != b else 0.0
    if abs(rel) <= noise:
        return noise, "within noise"
    if sign == 0:
        return noise, "changed"
    return noise, "improvement" if rel * sign > 0 else "regression"


def compare_runs(before: Iterable[AuditRun], after: Iterable[AuditRun]) -> list[Change]:
    """Every (host, profile) present in both sets, metric by metric."""
    sides: list[dict[tuple[str, str], list[AuditRun]]] = [defaultdict(list), defaultdict(list)]
    for side, runs in zip(sides, (before, after), strict=True):
        for r in runs:
            side[(r.host, r.profile)].append(r)
    out: list[Change] = []
    for key in sorted(set(sides[0]) & set(sides[1])):
        b_runs, a_runs = sides[0][key], sides[1][key]
        b_dom = {r.headline_domain for r in b_runs if r.headline_domain}
        a_dom = {r.headline_domain for r in a_runs if r.headline_domain}
        for name, unit, sign, get in METRICS:
            bv = [v for r in b_runs if (v := get(r)) is not None]
            av = [v for r in a_runs if (v := get(r)) is not None]
            if not bv or not av:
                continue
            domain = ""
            if name in _ENERGY:
                if b_dom != a_dom or len(b_dom) != 1:
                    out.append(Change(*key, name, unit, "/".join(sorted(b_dom | a_dom)), median(bv), median(av),
                                      len(bv), len(av), None,
                                      f"not compared: domains differ ({', '.join(sorted(b_dom))} before, "
                                      f"{', '.join(sorted(a_dom))} after)"))
                    continue
                (domain,) = b_dom
            noise, verdict = _verdict(bv, av, sign)
            out.append(Change(*key, name, unit, domain, median(bv), median(av), len(bv), len(av), noise, verdict))
    return out
