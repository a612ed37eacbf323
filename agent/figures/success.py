"""Task success beside speed and energy: success rate with its Wilson 95% interval, joules per correct
answer and correct answers per second, per energy domain. Pure (stdlib only).

    success_rate          fraction   correct / scored, over every measured (non-warm-up) request whose item
                                     has an expected answer
    success_rate_ci_low   fraction   Wilson score interval at 95% of success_rate, no continuity correction
    success_rate_ci_high             (what scipy.stats.binomtest(k, n).proportion_ci(method="wilson") gives)
    correct_per_s         correct/s  correct answers completed in the measured window / window duration
                                     (counted as requests_per_s counts requests)
    j_per_correct         J/correct  energy_j of one domain / correct answers completed in the window (as
                                     j_per_token); None, and said why, when none was correct
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from wattfleet.core.model import Figure, TaskSuccess

CONFIDENCE = 0.95
MIN_CONFIDENT_SCORED = 32  # as energy figures: fewer than about 32 repetitions is low confidence

DEFINITIONS: dict[str, str] = {
    "success_rate": "correct / scored, over measured (non-warm-up) queries whose item has an expected answer",
    "success_rate_ci_low": "Wilson score interval (95%, no continuity correction) of success_rate, lower bound",
    "success_rate_ci_high": "Wilson score interval (95%, no continuity correction) of success_rate, upper bound",
    "correct_per_s": "correct answers completed in the measured window / window duration",
    "j_per_correct": "energy_j of the domain / correct answers completed in the measured window",
}
UNITS = {"success_rate": "fraction", "success_rate_ci_low": "fraction", "success_rate_ci_high": "fraction",
         "correct_per_s": "correct/s", "j_per_correct": "J/correct"}
NONE_CORRECT = "; no correct answer in the window, so energy per correct answer is undefined (not infinite)"


def wilson_interval(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson 1927), without continuity correction."""
    if n <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be in [0, {n}], got {correct}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    p = correct / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    # At p = 0 or 1 the bound is exactly 0 or 1; keep rounding from moving it off.
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Success:
    """The record's `success` block."""

    scorer: str
    on: str
    scored: int  # measured requests with an expected answer
    correct: int
    unscored: int  # measured requests whose item has no expected answer
    correct_in_window: int  # correct answers completed inside the measured window

    @property
    def rate(self) -> float | None:
        return self.correct / self.scored if self.scored else None

    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.correct, self.scored) if self.scored else None

    def to_dict(self) -> dict[str, Any]:
        ci = self.interval()
        return {"scorer": self.scorer, "on": self.on, "scored": self.scored, "correct": self.correct,
                "unscored": self.unscored, "correct_in_window": self.correct_in_window, "rate": self.rate,
                "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
                "ci_method": "wilson", "confidence": CONFIDENCE}

    def task(self) -> TaskSuccess:
        """The record's typed `task` block (what the wire carries), the rest in its details."""
        ci = self.interval()
        return TaskSuccess(self.scorer, self.scored, self.correct, self.rate, ci[0] if ci else None,
                           ci[1] if ci else None,
                           {"on": self.on, "unscored": self.unscored, "correct_in_window": self.correct_in_window,
                            "ci_method": "wilson", "confidence": CONFIDENCE})


def tally(outcomes: Iterable[tuple[bool | None, bool]], scorer: str, on: str) -> Success:
    """Success of measured requests from (correct, completed_in_window) pairs; correct None = unscored."""
    scored = correct = unscored = in_window = 0
    for ok, inside in outcomes:
        if ok is None:
            unscored += 1
            continue
        scored += 1
        correct += ok
        in_window += ok and inside
    return Success(scorer, on, scored, correct, unscored, in_window)


def _figure(name: str, value: float | None, domain: str, low_confidence: bool, note: str = "",
            prefix: str = "") -> Figure:
    return Figure(name, value, UNITS[name], domain, prefix + DEFINITIONS[name] + note, low_confidence)


def _energy_by_domain(energy_figures: Iterable[Figure]) -> dict[str, tuple[float | None, bool, str]]:
    """domain -> (energy_j, low_confidence, definition prefix) from the run's energy figures."""
    out: dict[str, tuple[float | None, bool, str]] = {}
    for f in energy_figures:
        if f.name != "energy_j":
            continue
        prefix = f.definition.split(": ", 1)[0] + ": " if f.definition.startswith("ESTIMATE") else ""
        out[f.domain] = (f.value, f.low_confidence, prefix)
    return out


def success_figures(success: Success, window_s: float, energy_figures: Iterable[Figure] = ()) -> list[Figure]:
    """success_rate with its interval, correct_per_s, and j_per_correct for each energy domain.

    Nothing when no request was scored. j_per_correct is None (low confidence, said why) when no answer
    in the window was correct or the domain has no energy; it inherits the domain's low confidence and
    its ESTIMATE prefix, as j_per_token does."""
    if success.scored == 0:
        return []
    few = success.scored < MIN_CONFIDENT_SCORED
    ci = success.interval()
    assert ci is not None
    figs = [_figure("success_rate", success.rate, "", few),
            _figure("success_rate_ci_low", ci[0], "", few),
            _figure("success_rate_ci_high", ci[1], "", few),
            _figure("correct_per_s", success.correct_in_window / window_s if window_s > 0 else None, "",
                    few or window_s <= 0)]
    for domain, (energy_j, low, prefix) in sorted(_energy_by_domain(energy_figures).items()):
        value = None
        note = NONE_CORRECT if success.correct_in_window == 0 else ""
        if energy_j is not None and success.correct_in_window > 0:
            value = energy_j / success.correct_in_window
        figs.append(_figure("j_per_correct", value, domain, low or few or value is None or bool(prefix), note,
                            prefix))
    return figs
