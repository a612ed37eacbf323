"""Bounded per-domain history in flat arrays (about 25 bytes a reading), for energy over long windows.

The sampler keeps one of these per domain beside the short Sample ring that feeds streaming, so a
one-hour run's energy needs neither an hour of Sample objects nor a scan of the other domains.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right


class _TimeView:
    """The ring's timestamps in logical order, as a sequence that bisect can search."""

    def __init__(self, series: DomainSeries) -> None:
        self._s = series

    def __len__(self) -> int:
        return self._s.size

    def __getitem__(self, i: int) -> int:
        s = self._s
        return s.t[(s.start + i) % s.capacity]


class DomainSeries:
    """Fixed-capacity ring of (t_ns, power_w, energy_j, missing) for one domain; oldest overwritten."""

    __slots__ = ("_last_t", "capacity", "m", "pe", "size", "start", "t")

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"series capacity must be at least 2, got {capacity}")
        self.capacity = capacity
        # Grown by append until full (memory follows the history actually kept), then overwritten.
        # power_w and energy_j side by side in one array: a reading touches three places in memory, not
        # four (the sampler wakes with cold caches and TLB, where each place costs).
        self.t = array("q")
        self.pe = array("d")
        self.m = bytearray()
        self.start = 0
        self.size = 0
        self._last_t = -(2**63)  # the newest reading's time: append's check without ring arithmetic

    @property
    def last_t_ns(self) -> int | None:
        return self.t[(self.start + self.size - 1) % self.capacity] if self.size else None

    @property
    def first_t_ns(self) -> int | None:
        return self.t[self.start] if self.size else None

    def append(self, t_ns: int, power_w: float | None, energy_j: float | None, missing: bool) -> bool:
        """Add a reading; one not newer than the last is refused (returns False)."""
        if t_ns <= self._last_t:
            return False
        self._last_t = t_ns
        size, cap = self.size, self.capacity
        p = math.nan if power_w is None else power_w
        e = math.nan if energy_j is None else energy_j
        if size < cap:  # still growing: start is 0, the next slot is the end
            self.t.append(t_ns)
            pe = self.pe
            pe.append(p)
            pe.append(e)
            self.m.append(1 if missing else 0)
            self.size = size + 1
            return True
        i = self.start
        self.start = (i + 1) % cap
        self.t[i] = t_ns
        self.pe[2 * i] = p
        self.pe[2 * i + 1] = e
        self.m[i] = 1 if missing else 0
        return True

    def columns(self, t0_ns: int, t1_ns: int) -> tuple[list[int], list[float], list[float], list[bool]]:
        """Readings in [t0, t1] plus one on each side (for edge interpolation), oldest first."""
        view = _TimeView(self)
        lo = max(bisect_left(view, t0_ns) - 1, 0)
        hi = min(bisect_right(view, t1_ns) + 1, self.size)
        ts: list[int] = []
        ps: list[float] = []
        es: list[float] = []
        ms: list[bool] = []
        for a, b in self._physical(lo, hi):
            ts.extend(self.t[a:b])
            pe = self.pe[2 * a:2 * b]
            ps.extend(pe[0::2])
            es.extend(pe[1::2])
            ms.extend(bool(x) for x in self.m[a:b])
        return ts, ps, es, ms

    def _physical(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """Physical index ranges covering logical [lo, hi)."""
        if hi <= lo:
            return []
        a, b = (self.start + lo) % self.capacity, (self.start + hi) % self.capacity
        if a < b:
            return [(a, b)]
        return [(a, self.capacity), (0, b)] if b else [(a, self.capacity)]
