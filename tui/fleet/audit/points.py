"""Operating points: what one host delivers, and draws, at one setting of one profile.

A point comes from a run, or from each level of a sweep (rate, concurrency, and later power limit).
Repeated runs of one setting on one host become one point: mean tokens/s and power, the worst p99s, and
valid only if every run was. Any source that can say (host, setting, tokens/s, watts, p99s, valid) can
build `OperatingPoint`s directly; records are one such source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from wattfleet.tui.fleet.audit.model import ESTIMATED, AuditRun, Success
from wattfleet.tui.fleet.audit.power import answers_worse, worst_success

MERGE_RULE = ("repeats of one setting: mean tokens/s and power, worst p99 TTFT/TPOT, the lowest success rate, "
              "valid only if all are")
ANSWERS_WORSE_RULE = ("answers worse: the success rate's 95% interval lies wholly below the best lower bound of any "
                      "configuration of the same profile in the fleet (upper bound < that lower bound)")


@dataclass(frozen=True)
class Slo:
    """Bounds every chosen point must meet (None = no bound): p99 latencies, and a task success floor.

    With a success floor, a point also needs a known success rate at or above it, and not to answer worse
    than the fleet's best (ANSWERS_WORSE_RULE)."""

    ttft_p99_ms: float | None = None
    tpot_p99_ms: float | None = None
    min_success: float | None = None  # a fraction in (0, 1]

    def miss(self, p: OperatingPoint) -> str:
        """Why `p` misses the SLO, or "" when it meets it."""
        for name, bound, value in (("p99 TTFT", self.ttft_p99_ms, p.ttft_p99_ms),
                                   ("p99 TPOT", self.tpot_p99_ms, p.tpot_p99_ms)):
            if bound is None:
                continue
            if value is None:
                return f"no {name} in its records"
            if value > bound:
                return f"{name} {value:.4g} ms > {bound:g} ms"
        if self.min_success is not None:
            s = p.success
            if s is None or s.rate is None:
                return "no task success in its records"
            if s.rate < self.min_success:
                return f"success {s.rate:.3g} < {self.min_success:g}"
            if p.answers_worse:
                return "answers worse than the fleet's best"
        return ""

    def __str__(self) -> str:
        parts = [f"p99 TTFT <= {self.ttft_p99_ms:g} ms" if self.ttft_p99_ms is not None else "",
                 f"p99 TPOT <= {self.tpot_p99_ms:g} ms" if self.tpot_p99_ms is not None else "",
                 f"success >= {self.min_success:g} and not answering worse" if self.min_success is not None else ""]
        return ", ".join(p for p in parts if p) or "none"


@dataclass(frozen=True)
class OperatingPoint:
    host: str
    setting: str
    tokens_per_s: float
    power_w: float
    domain: str  # the domain key power_w is counted under
    ttft_p99_ms: float | None = None
    tpot_p99_ms: float | None = None
    valid: bool = True
    profile: str = ""
    n_runs: int = 1
    low_confidence: bool = False
    shared: bool = False  # its power domain was shared with other work in some run
    success: Success | None = None
    answers_worse: bool = False  # ANSWERS_WORSE_RULE

    @property
    def tokens_per_j(self) -> float | None:
        return self.tokens_per_s / self.power_w if self.power_w > 0 else None


@dataclass(frozen=True)
class Excluded:
    host: str
    setting: str
    profile: str
    reason: str


def points_from_runs(runs: Iterable[AuditRun], key_of: Callable[[str], str | None], *,
                     allow_estimated: bool = False, best_low: Mapping[str, float] | None = None,
                     ) -> tuple[list[OperatingPoint], list[Excluded]]:
    """Operating points of every (host, profile, setting); `key_of(host)` is the domain key to count.

    Estimated power is left out unless `allow_estimated` (the budget itself counts "estimated").
    `best_low` (profile -> the fleet's best success CI lower bound) marks points that answer worse."""
    best_low = best_low or {}
    groups: dict[tuple[str, str, str], list[AuditRun]] = defaultdict(list)
    for level in (level for r in runs for level in r.levels):
        groups[(level.host, level.profile, level.setting)].append(level)
    points: list[OperatingPoint] = []
    excluded: list[Excluded] = []
    for (host, profile, setting), rs in sorted(groups.items()):
        key = key_of(host)
        tps = [r.tokens_per_s for r in rs if r.tokens_per_s is not None]
        powers = [p for r in rs if key and (p := r.power_w(key)) is not None]
        reason = ""
        if not tps:
            reason = "no tokens_per_s (not a generative run)"
        elif not key:
            reason = "no measured power domain to count"
        elif key == ESTIMATED and not allow_estimated:
            reason = "power only estimated (not a measurement): not used for the budget"
        elif len(powers) != len(rs):
            have = sorted({k for r in rs for k in r.measured_keys()})
            reason = f"no {key} power figure (has {', '.join(have) or 'none'})"
        if reason:
            excluded.append(Excluded(host, setting, profile, reason))
            continue
        ttft = [r.ttft_p99_ms for r in rs]
        tpot = [r.tpot_p99_ms for r in rs]
        success = worst_success(rs)
        points.append(OperatingPoint(
            host=host, setting=setting, profile=profile, domain=key or "",
            tokens_per_s=sum(tps) / len(tps), power_w=sum(powers) / len(powers),
            ttft_p99_ms=None if any(t is None for t in ttft) else max(t for t in ttft if t is not None),
            tpot_p99_ms=None if any(t is None for t in tpot) else max(t for t in tpot if t is not None),
            valid=all(r.valid for r in rs), n_runs=len(rs),
            low_confidence=any(d.low_confidence for r in rs for d in r.domains.values() if d.key == key),
            shared=any(d.shared for r in rs for d in r.domains.values() if d.key == key), success=success,
            answers_worse=answers_worse(success, best_low.get(profile))))
    return points, excluded


def eligible(points: Iterable[OperatingPoint], slo: Slo) -> tuple[list[OperatingPoint], list[Excluded]]:
    """Points the optimiser may choose: valid and meeting the SLO; the others with the reason."""
    ok: list[OperatingPoint] = []
    out: list[Excluded] = []
    for p in points:
        why = "" if p.valid else "run not valid"
        why = why or slo.miss(p)
        if why:
            out.append(Excluded(p.host, p.setting, p.profile, why))
        else:
            ok.append(p)
    return ok, out


def pareto_front(points: Sequence[OperatingPoint]) -> set[int]:
    """Indices of the points no other point beats on both tokens/J (higher) and p99 TTFT (lower)."""
    scored = sorted((p.ttft_p99_ms, -e, i) for i, p in enumerate(points)
                    if (e := p.tokens_per_j) is not None and p.ttft_p99_ms is not None)
    front: set[int] = set()
    best, best_t = float("-inf"), float("nan")
    for t, neg_e, i in scored:  # by TTFT, then tokens/J: on the front when no faster point is as efficient
        e = -neg_e
        if e > best or (e == best and t == best_t):
            front.add(i)
            best, best_t = e, t
    return front
