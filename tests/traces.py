"""Recorded power traces for tests, in the telemetry layer's replay format (agent/telemetry/replay.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wattfleet.agent.telemetry.replay import TRACE_HEADER, TRACE_MAGIC

START_NS = 1_000_000_000


@dataclass(frozen=True)
class Track:
    """One domain of a trace: power at row i, and the energy counter at row i where the source has one."""

    source: str
    domain: str
    power_w: Callable[[int], float]
    energy_j: Callable[[int], float] | None = None


def constant(watts: float) -> Callable[[int], float]:
    return lambda _i: watts


def write_power_trace(path: Path, tracks: Sequence[Track], *, rows: int = 100,
                      step_ns: int = 10_000_000) -> Path:
    """`rows` readings of every track, `step_ns` apart (default: 1 s at 100 Hz; agents loop it)."""
    lines = [TRACE_MAGIC, ",".join(TRACE_HEADER)]
    for i in range(rows):
        t = START_NS + i * step_ns
        for k in tracks:
            energy = "" if k.energy_j is None else f"{k.energy_j(i):.3f}"
            lines.append(f"{t},{k.source},{k.domain},{k.power_w(i):g},{energy},0")
    path.write_text("\n".join(lines) + "\n")
    return path
