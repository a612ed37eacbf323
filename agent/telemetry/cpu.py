"""The host's CPU over a window beside this process's own share, as Kepler attributes CPU power.

Two snapshots (at the start and end of a measured window) are enough: /proc/stat's aggregate line for
the host, os.times() for this process. A window where other processes used more than CONTENDED_OTHERS_PCT
of all cores is flagged contended: an `estimated` domain (host-wide CPU x TDP) then charges their work to
the run, and even measured CPU domains carry it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from wattfleet.core.model import HostCpu

CONTENDED_OTHERS_PCT = 20.0  # other processes' share of all cores above which a window is contended


@dataclass(frozen=True)
class CpuSnapshot:
    t_ns: int
    host_busy: int  # jiffies, all cores
    host_total: int
    process_s: float  # this process's user + system CPU seconds


def _proc_stat(path: str) -> tuple[int, int] | None:
    try:
        with open(path, "rb") as handle:
            line = handle.readline().decode("ascii", "replace").split()
        vals = [int(v) for v in line[1:9]]
    except (OSError, ValueError):
        return None
    if not line or line[0] != "cpu" or len(vals) < 4:
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


class CpuMeter:
    """`before = meter.snapshot()`, later `meter.over(before)` -> HostCpu for the span between."""

    def __init__(self, proc_stat: str = "/proc/stat", tdp_w: float | None = None) -> None:
        self.proc_stat = proc_stat
        self.tdp_w = tdp_w
        self.cores = os.cpu_count() or 1

    def snapshot(self) -> CpuSnapshot | None:
        host = _proc_stat(self.proc_stat)
        if host is None:
            return None
        t = os.times()
        return CpuSnapshot(time.monotonic_ns(), host[0], host[1], t.user + t.system)

    def over(self, before: CpuSnapshot | None) -> HostCpu | None:
        after = self.snapshot()
        if before is None or after is None:
            return None
        wall_s = (after.t_ns - before.t_ns) / 1e9
        total = after.host_total - before.host_total
        if wall_s <= 0 or total <= 0:
            return None
        host_pct = 100.0 * (after.host_busy - before.host_busy) / total
        agent_pct = min(100.0, 100.0 * (after.process_s - before.process_s) / (wall_s * self.cores))
        others = max(0.0, host_pct - agent_pct)
        return HostCpu(host_util_pct=host_pct, agent_share_pct=agent_pct, contended=others > CONTENDED_OTHERS_PCT,
                       tdp_w=self.tdp_w, details={"others_pct": others, "cores": self.cores,
                                                  "contended_above_pct": CONTENDED_OTHERS_PCT})


def estimate_tdp_w(sources: Iterable[object]) -> float | None:
    """The TDP behind the "estimated" domain, when that source is among `sources`."""
    for s in sources:
        if getattr(s, "name", "") == "estimated":
            return float(getattr(s, "tdp_w"))  # noqa: B009
    return None
