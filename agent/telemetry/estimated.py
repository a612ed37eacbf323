"""An estimate, never a measurement: CPU utilisation (from /proc/stat) times a configured TDP."""

from __future__ import annotations

import os

from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.sysfs import SysfsReader
from wattfleet.agent.telemetry.types import Reading

DEFAULT_TDP_W = 65.0


class EstimatedSource(Source):
    """power_w = idle_w + (tdp_w - idle_w) * utilisation; domain "estimated". The first read has no power."""

    def __init__(self, tdp_w: float = DEFAULT_TDP_W, idle_w: float = 0.0, root: str | os.PathLike[str] = "/",
                 reader: SysfsReader | None = None, assumed: bool = False) -> None:
        if not 0 < tdp_w <= 10_000 or not 0 <= idle_w <= tdp_w:
            raise SourceUnavailable(f"estimated: need 0 < tdp_w <= 10000 and 0 <= idle_w <= tdp_w, "
                                    f"got tdp_w={tdp_w}, idle_w={idle_w}")
        self.name = "estimated"
        self.domains = ("estimated",)
        # /proc/stat counts in jiffies (10 ms): read it at most every 0.2 s, not on every tick.
        self.update_interval_s = 0.2
        self._next_ns = 0
        self.tdp_w, self.idle_w = tdp_w, idle_w
        self._r = reader or SysfsReader(root)
        self._stat = self._r.path("proc/stat")
        self._stat_file = self._r.keep(self._stat)
        if self._read_times() is None:
            raise SourceUnavailable(f"absent: {self._stat} is unreadable, so CPU utilisation is unknown")
        self._prev: tuple[int, int] | None = None
        how = "assumed, set it with --source estimated:tdp_w=N" if assumed else "configured"
        self.detail = (f"estimated, not measured: CPU utilisation from {self._stat} x TDP {tdp_w:g} W "
                       f"({how})" + (f", idle {idle_w:g} W" if idle_w else ""))

    def _read_times(self) -> tuple[int, int] | None:
        """(busy, total) jiffies of the aggregate cpu line."""
        try:
            data = self._stat_file.read_bytes()
            if data is None:
                return None
            # Only the first line: /proc/stat goes on with every IRQ's count (kilobytes on a server).
            line = data.split(b"\n", 1)[0].decode("ascii", errors="replace").split()
            vals = [int(v) for v in line[1:9]]
        except (OSError, ValueError, IndexError):
            return None
        if line[0] != "cpu" or len(vals) < 4:
            return None
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        total = sum(vals)
        return total - idle, total

    def close(self) -> None:
        self._stat_file.close()

    def read(self, t_ns: int) -> list[Reading]:
        if t_ns < self._next_ns:
            return []
        self._next_ns = t_ns + int(self.update_interval_s * 1e9)
        now = self._read_times()
        if now is None:
            return [Reading("estimated", None, None, True)]
        prev, self._prev = self._prev, now
        if prev is None or now[1] <= prev[1]:
            return [Reading("estimated", None)]
        util = min(max((now[0] - prev[0]) / (now[1] - prev[1]), 0.0), 1.0)
        return [Reading("estimated", self.idle_w + (self.tdp_w - self.idle_w) * util)]
