"""Recorded traces: a CSV format, a recorder that writes one from any sampler, and a replay source.

Format (UTF-8 CSV, one Sample a row, timestamps in monotonic ns of the recording host):

    # wattfleet trace v1
    t_ns,source,domain,power_w,energy_j,missing
    1000000000,nvml,gpu-board:0,231.5,10234.125,0

Empty power_w / energy_j = no value. Replayed samples keep their recorded domain; their source is
"replay".
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Iterable
from itertools import pairwise
from pathlib import Path
from statistics import median
from types import TracebackType
from typing import Protocol

from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.types import Reading, Sample
from wattfleet.core.errors import ConfigError


class _HasSamples(Protocol):
    def samples_after(self, seq: int) -> list[Sample]: ...


TRACE_HEADER = ("t_ns", "source", "domain", "power_w", "energy_j", "missing")
TRACE_MAGIC = "# wattfleet trace v1"


def _opt_float(text: str, path: Path, line: int, column: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{path}:{line}: {column} {text!r} is not a number; leave it empty for no value") \
            from None
    if not math.isfinite(value):
        raise ConfigError(f"{path}:{line}: {column} is {text!r}; leave it empty for no value")
    return value


def read_trace(path: str | Path) -> list[Sample]:
    """Every sample of a trace file, in file order, numbered from 1."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read trace {p}: {exc.strerror or exc}; check the path") from exc
    lines = text.splitlines()
    body = [ln for ln in lines if not ln.startswith("#")]
    reader = csv.reader(body)
    header = next(reader, None)
    if header is None or tuple(header) != TRACE_HEADER:
        raise ConfigError(
            f"{p}: not a wattfleet trace: the first row must be {','.join(TRACE_HEADER)!r}, got {header!r}"
        )
    out: list[Sample] = []
    comments = len(lines) - len(body)
    last_t: dict[str, int] = {}
    for n, row in enumerate(reader, start=2 + comments):
        if not row:
            continue
        if len(row) != len(TRACE_HEADER):
            raise ConfigError(f"{p}:{n}: expected {len(TRACE_HEADER)} columns, got {len(row)}")
        t_text, source, domain, pw, ej, miss = row
        try:
            t_ns = int(t_text)
        except ValueError:
            raise ConfigError(f"{p}:{n}: t_ns {t_text!r} is not an integer (monotonic ns)") from None
        if t_ns <= last_t.get(domain, -(2**63)):
            raise ConfigError(f"{p}:{n}: t_ns {t_ns} is not after the previous row of domain {domain!r}")
        last_t[domain] = t_ns
        if miss not in ("0", "1"):
            raise ConfigError(f"{p}:{n}: missing must be 0 or 1, got {miss!r}")
        out.append(Sample(len(out) + 1, t_ns, source, domain, _opt_float(pw, p, n, "power_w"),
                          _opt_float(ej, p, n, "energy_j"), miss == "1"))
    return out


def _fmt(v: float | None) -> str:
    return "" if v is None else repr(float(v))


class TraceRecorder:
    """Appends samples to a trace file; `pull(sampler)` writes what arrived since the last pull."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._fh: io.TextIOWrapper = self.path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"cannot write trace {self.path}: {exc.strerror or exc}") from exc
        self._fh.write(TRACE_MAGIC + "\n")
        self._csv = csv.writer(self._fh, lineterminator="\n")
        self._csv.writerow(TRACE_HEADER)
        self.last_seq = 0
        self.rows = 0

    def write(self, samples: Iterable[Sample]) -> None:
        for s in samples:
            self._csv.writerow((s.t_ns, s.source, s.domain, _fmt(s.power_w), _fmt(s.energy_j),
                                "1" if s.missing else "0"))
            self.last_seq = max(self.last_seq, s.seq)
            self.rows += 1
        self._fh.flush()

    def pull(self, sampler: _HasSamples) -> int:
        """Write the sampler's samples newer than the last pulled; returns how many."""
        new = sampler.samples_after(self.last_seq)
        self.write(new)
        return len(new)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> TraceRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ReplaySource(Source):
    """Plays a trace back at its own timestamps, shifted so that its first row lands on the first read.

    Each read returns every row whose (shifted) time has come, with that time; after the last row the
    source returns nothing, or starts over when `loop` is set (counters continue across loops).
    """

    def __init__(self, path: str | Path, *, loop: bool = False,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        try:
            self.rows = read_trace(path)
        except ConfigError as exc:
            raise SourceUnavailable(str(exc)) from exc
        if not self.rows:
            raise SourceUnavailable(f"trace {path} has no rows; record one with `wattfleet telemetry --record`")
        self.name = "replay"
        self.domains = tuple(dict.fromkeys(s.domain for s in self.rows))
        self.loop = loop
        self._clock = clock
        self._t_first = min(s.t_ns for s in self.rows)
        self._span = max(s.t_ns for s in self.rows) - self._t_first
        self._anchor: int | None = None
        self._next = 0
        self._lap = 0
        # A loop repeats the trace one interval (its last one) after its end, and each domain's counter
        # goes on rising by the trace's total plus that last interval's increase: seamless laps.
        times = sorted({s.t_ns for s in self.rows})
        self._period = self._span + (times[-1] - times[-2] if len(times) > 1 else 1)
        # The trace's own sampling interval stands for the sensor's: gaps are judged against it.
        one = [s.t_ns for s in self.rows if s.domain == self.domains[0]]
        self.update_interval_s = median(b - a for a, b in pairwise(one)) / 1e9 if len(one) > 1 else 0.0
        counters: dict[str, list[float]] = {}
        for s in self.rows:
            if s.energy_j is not None:
                counters.setdefault(s.domain, []).append(s.energy_j)
        self._lap_energy = {d: c[-1] - c[0] + (c[-1] - c[-2] if len(c) > 1 else 0.0) for d, c in counters.items()}
        self.detail = (f"trace {path}: {len(self.rows)} rows over {self._span / 1e9:.3g} s, "
                       f"played at its own timestamps{' in a loop' if loop else ''}")

    @property
    def finished(self) -> bool:
        return not self.loop and self._next >= len(self.rows)

    def read(self, t_ns: int) -> list[Reading]:
        if self._anchor is None:
            self._anchor = t_ns
        out: list[Reading] = []
        period = self._period
        while True:
            if self._next >= len(self.rows):
                if not self.loop:
                    return out
                self._next, self._lap = 0, self._lap + 1
            row = self.rows[self._next]
            t = self._anchor + row.t_ns - self._t_first + self._lap * period
            if t > t_ns:
                return out
            energy = row.energy_j
            if energy is not None and self._lap:
                energy += self._lap * self._lap_energy.get(row.domain, 0.0)
            out.append(Reading(row.domain, row.power_w, energy, row.missing, t))
            self._next += 1
