"""Energy of one domain over a window, from a counter's difference or the trapezoidal integral of power.

Pure functions over plain columns (timestamps, power, counter, missing flags) so that the live sampler
and offline analysis of a recorded trace compute the same figure the same way (METRICS.md `energy_j`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from statistics import median

from wattfleet.agent.telemetry.types import EnergyWindow, Sample
from wattfleet.core.errors import UsageError

MIN_CONFIDENT_WINDOW_S = 5.0  # METRICS.md: windows shorter than about 5 s are low-confidence
MIN_SENSOR_UPDATES = 10  # and windows shorter than ten updates of the sensor itself


class _Cumulative:
    """Cumulative energy through a domain's good points, evaluable at any instant of the window."""

    def __init__(self, ts: list[int], cum: list[float], ps: list[float], linear_power: bool) -> None:
        self.ts, self.cum, self.ps, self.linear_power = ts, cum, ps, linear_power
        span_s = (ts[-1] - ts[0]) / 1e9
        fallback = (cum[-1] - cum[0]) / span_s if span_s > 0 else math.nan
        # Power used to hold the edges: the nearest reading, else the mean over the covered part.
        self.p_first = ps[0] if math.isfinite(ps[0]) else fallback
        self.p_last = ps[-1] if math.isfinite(ps[-1]) else fallback

    def at(self, t: int) -> float:
        ts, cum = self.ts, self.cum
        if t <= ts[0]:
            return cum[0] - self.p_first * (ts[0] - t) / 1e9
        if t >= ts[-1]:
            return cum[-1] + self.p_last * (t - ts[-1]) / 1e9
        lo, hi = 0, len(ts) - 1
        while hi - lo > 1:  # bisect: ts[lo] < t <= ts[hi]
            mid = (lo + hi) // 2
            if ts[mid] < t:
                lo = mid
            else:
                hi = mid
        ta, tb = ts[lo], ts[hi]
        if not self.linear_power:  # counter: linear between readings
            return cum[lo] + (cum[hi] - cum[lo]) * (t - ta) / (tb - ta)
        pa, pb = self.ps[lo], self.ps[hi]
        pt = pa + (pb - pa) * (t - ta) / (tb - ta)
        return cum[lo] + (pa + pt) / 2 * (t - ta) / 1e9


def _spans(
    ts: Sequence[int], good: list[int], ms: Sequence[bool], t0: int, t1: int, gap_ns: int
) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    if not good:
        return [(t0, t1)]
    first_t, last_t = ts[good[0]], ts[good[-1]]
    # At the edges, a reading within the normal gap of t0/t1 is ordinary sampling, not missing data
    # (a run's window ends between two ticks); failed reads there are missing all the same.
    if first_t > t0 and (first_t - t0 > gap_ns or any(ms[: good[0]])):
        spans.append((t0, min(first_t, t1)))
    for a, b in pairwise(good):
        ta, tb = ts[a], ts[b]
        if tb <= t0 or ta >= t1:
            continue
        if tb - ta > gap_ns or any(ms[a + 1 : b]):
            spans.append((max(ta, t0), min(tb, t1)))
    if last_t < t1 and (t1 - last_t > gap_ns or any(ms[good[-1] + 1 :])):
        spans.append((max(last_t, t0), t1))
    merged: list[tuple[int, int]] = []
    for s in sorted(spans):
        if merged and s[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], s[1]))
        elif s[1] > s[0]:
            merged.append(s)
    return merged


def window_energy(
    domain: str,
    ts: Sequence[int],
    ps: Sequence[float],
    es: Sequence[float],
    ms: Sequence[bool],
    t0_ns: int,
    t1_ns: int,
    *,
    gap_ns: int | None = None,
    update_interval_s: float = 0.0,
) -> EnergyWindow:
    """Energy of `domain` over [t0_ns, t1_ns] from columns sorted by time (NaN = no value).

    The columns should include the reading just before t0 and just after t1 so the edges interpolate.
    A gap between good readings longer than `gap_ns` (default: four times the median interval) counts
    as missing data.
    """
    if t1_ns <= t0_ns:
        raise UsageError(f"energy window for {domain!r} is empty: t1_ns {t1_ns} <= t0_ns {t0_ns}")
    counter = [i for i in range(len(ts)) if not ms[i] and math.isfinite(es[i])]
    power = [i for i in range(len(ts)) if not ms[i] and math.isfinite(ps[i])]
    use_counter = len(counter) >= 2
    good = counter if use_counter else power
    if gap_ns is None:
        gaps = [ts[b] - ts[a] for a, b in pairwise(good)]
        gap_ns = 4 * int(median(gaps)) if gaps else 0
    duration_s = (t1_ns - t0_ns) / 1e9
    spans = _spans(ts, good, ms, t0_ns, t1_ns, max(gap_ns, 1))
    notes: list[str] = []
    if duration_s < MIN_CONFIDENT_WINDOW_S:
        notes.append(f"window of {duration_s:.3g} s is shorter than {MIN_CONFIDENT_WINDOW_S:g} s")
    if update_interval_s > 0 and duration_s < MIN_SENSOR_UPDATES * update_interval_s:
        notes.append(
            f"window spans fewer than {MIN_SENSOR_UPDATES} updates of the sensor "
            f"(it updates every {update_interval_s:g} s)"
        )
    if len(good) < 2:
        notes.append("fewer than two usable readings: no energy")
        return EnergyWindow(domain, t0_ns, t1_ns, None, None, None, "none", 0.0, len(good), True,
                            [(t0_ns, t1_ns)], tuple(notes))
    if spans:
        lost_s = sum(b - a for a, b in spans) / 1e9
        notes.append(f"{len(spans)} span(s) without data ({lost_s:.3g} s) were bridged")

    g_ts = [ts[i] for i in good]
    g_ps = [float(ps[i]) for i in good]
    if use_counter:
        cum = [float(es[i]) for i in good]
    else:
        cum = [0.0]
        for k in range(1, len(good)):
            cum.append(cum[-1] + (g_ps[k - 1] + g_ps[k]) / 2 * (g_ts[k] - g_ts[k - 1]) / 1e9)
    c = _Cumulative(g_ts, cum, g_ps, linear_power=not use_counter)
    energy_j = c.at(t1_ns) - c.at(t0_ns)
    inside = [k for k in range(len(good)) if t0_ns <= g_ts[k] <= t1_ns]
    peaks = [g_ps[k] for k in inside if math.isfinite(g_ps[k])]
    if not peaks:  # a window between two readings: the larger of the two around it
        before = [g_ps[k] for k in range(len(good)) if g_ts[k] < t0_ns][-1:]
        after = [g_ps[k] for k in range(len(good)) if g_ts[k] > t1_ns][:1]
        peaks = [p for p in before + after if math.isfinite(p)]
    rate = 0.0
    if len(inside) >= 2 and g_ts[inside[-1]] > g_ts[inside[0]]:
        rate = (len(inside) - 1) / ((g_ts[inside[-1]] - g_ts[inside[0]]) / 1e9)
    return EnergyWindow(
        domain=domain,
        t0_ns=t0_ns,
        t1_ns=t1_ns,
        energy_j=energy_j,
        power_avg_w=energy_j / duration_s,
        power_peak_w=max(peaks) if peaks else None,
        method="counter" if use_counter else "integral",
        sample_rate_hz=rate,
        n_samples=len(inside),
        low_confidence=bool(notes),
        missing_spans=spans,
        notes=tuple(notes),
    )


def energy_from_samples(
    samples: Iterable[Sample], t0_ns: int, t1_ns: int, *, gap_ns: int | None = None
) -> dict[str, EnergyWindow]:
    """Per-domain energy over a window of recorded samples (offline analysis of a trace)."""
    cols: dict[str, tuple[list[int], list[float], list[float], list[bool]]] = {}
    for s in sorted(samples, key=lambda s: s.t_ns):
        ts, ps, es, ms = cols.setdefault(s.domain, ([], [], [], []))
        ts.append(s.t_ns)
        ps.append(math.nan if s.power_w is None else s.power_w)
        es.append(math.nan if s.energy_j is None else s.energy_j)
        ms.append(s.missing)
    return {d: window_energy(d, *c, t0_ns, t1_ns, gap_ns=gap_ns) for d, c in cols.items()}
