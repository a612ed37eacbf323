"""The sampler: reads every source on its own thread at a fixed rate into bounded buffers.

Two sequence spaces: power Samples are numbered 1, 2, ... in one space (`samples_after`,
`latest_seq`), device statistics in another (`device_samples_after`, `latest_device_seq`). Both
buffers are rings: a reader that falls more than `capacity` behind finds `oldest_seq` above its
cursor and has lost the readings in between. Energy over a window is computed from a separate
per-domain history (`history_s` long, a few bytes a reading), not from the Sample ring.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from types import TracebackType

from wattfleet.agent.telemetry.energy import window_energy
from wattfleet.agent.telemetry.series import DomainSeries
from wattfleet.agent.telemetry.source import Source
from wattfleet.agent.telemetry.types import DeviceReading, EnergyWindow, Reading, Sample, SourceStatus
from wattfleet.core.errors import UsageError

log = logging.getLogger(__name__)

_LATENESS_KEPT = 4096
_MAX_NAP_S = 0.1
_Row = tuple[int, int, str, str, float | None, float | None, bool]  # a Sample's fields, in order


class Sampler:
    """Reads `sources` every 1/rate_hz seconds on a daemon thread; start()/stop() or `with`."""

    def __init__(
        self,
        sources: Sequence[Source],
        rate_hz: float = 20.0,
        capacity: int = 8192,
        *,
        device_every: int = 5,
        device_capacity: int = 2048,
        history_s: float = 3900.0,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if not 0.1 <= rate_hz <= 1000.0:
            raise UsageError(f"sampling rate {rate_hz} Hz is out of range: choose 0.1 to 1000 Hz (default 20)")
        if capacity < 16:
            raise UsageError(f"sample ring capacity {capacity} is too small: choose at least 16")
        self.sources = list(sources)
        self.rate_hz = rate_hz
        self.period_ns = int(1e9 / rate_hz)
        self.device_every = max(1, device_every)
        self._clock = clock
        self._ring: deque[_Row] = deque(maxlen=capacity)
        self._dev_ring: deque[tuple[int, DeviceReading]] = deque(maxlen=device_capacity)
        self._history_len = max(16, int(history_s * rate_hz) + 16)
        self._series: dict[str, DomainSeries] = {}
        self._domain_interval_s: dict[str, float] = {}
        for src in self.sources:
            for d in src.domains:
                self._domain_interval_s[d] = src.update_interval_s
        self._seq = 0
        self._dev_seq = 0
        self._ticks = 0
        self.overruns = 0  # ticks skipped because a tick ran past the next one's slot
        self._lateness = array("q", bytes(8 * _LATENESS_KEPT))
        self._errors: dict[str, str] = {}
        self._baseline: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Sampler:
        if self._thread is not None:
            raise UsageError("this sampler is already running; stop() it before starting again")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wattfleet-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        # time.sleep, not Event.wait: one syscall per tick instead of a lock dance; stop() is seen
        # within _MAX_NAP_S.
        clock, sleep, period = self._clock, time.sleep, self.period_ns
        next_t = clock()
        while not self._stop.is_set():
            now = clock()
            if now < next_t:
                sleep(min((next_t - now) / 1e9, _MAX_NAP_S))
                continue
            self._lateness[self._ticks % _LATENESS_KEPT] = now - next_t
            self._tick(now, live=True)
            next_t += period
            after = clock()
            if after >= next_t + period:  # fell behind: skip the lost slots, never burst
                skipped = (after - next_t) // period
                self.overruns += int(skipped)
                next_t += skipped * period

    # -- one tick ------------------------------------------------------------------------------
    def tick(self, now_ns: int | None = None) -> None:
        """Read every source once (the thread calls this; tests may call it with a made-up now_ns)."""
        self._tick(self._clock() if now_ns is None else now_ns, live=now_ns is None)

    def _tick(self, now: int, live: bool) -> None:
        with_devices = self._ticks % self.device_every == 0
        self._ticks += 1
        batch: list[tuple[str, int, list[Reading]]] = []
        devices: list[DeviceReading] = []
        for i, src in enumerate(self.sources):
            # Each source's readings carry the time its read began: under load a tick can stretch.
            t_src = self._clock() if live and i else now
            try:
                batch.append((src.name, t_src, src.read(t_src)))
                if with_devices:
                    devices.extend(src.read_devices(t_src))
            except Exception as exc:  # a source bug must not end sampling for the others
                if src.name not in self._errors:
                    log.exception("telemetry source %s failed; its domains are marked missing", src.name)
                self._errors[src.name] = f"{type(exc).__name__}: {exc}"
                batch.append((src.name, t_src, [Reading(d, None, None, True) for d in src.domains]))
        with self._lock:
            series_of, ring, seq = self._series, self._ring, self._seq
            for name, t_src, readings in batch:
                for domain, power_w, energy_j, missing, t in readings:
                    t_ns = t_src if t is None else t
                    series = series_of.get(domain)
                    if series is None:
                        series = series_of[domain] = DomainSeries(self._history_len)
                    if series.append(t_ns, power_w, energy_j, missing):
                        seq += 1
                        # Plain tuples: cheap to make, and the garbage collector stops tracking them.
                        ring.append((seq, t_ns, name, domain, power_w, energy_j, missing))
            self._seq = seq
            for dev in devices:
                self._dev_seq += 1
                self._dev_ring.append((self._dev_seq, dev))

    # -- readers -------------------------------------------------------------------------------
    @property
    def latest_seq(self) -> int:
        return self._seq

    @property
    def oldest_seq(self) -> int:
        """Seq of the oldest retained Sample (latest_seq + 1 when none)."""
        with self._lock:
            return self._ring[0][0] if self._ring else self._seq + 1

    def samples_after(self, seq: int) -> list[Sample]:
        """Every retained Sample with seq > `seq`, oldest first."""
        with self._lock:
            if not self._ring or seq >= self._seq:
                return []
            skip = max(seq - self._ring[0][0] + 1, 0)
            rows = list(islice(self._ring, skip, None))
        return [Sample(*row) for row in rows]

    @property
    def latest_device_seq(self) -> int:
        return self._dev_seq

    def device_samples_after(self, seq: int) -> list[DeviceReading]:
        """Retained DeviceReadings whose device seq (its own space, see module doc) is > `seq`."""
        with self._lock:
            if not self._dev_ring or seq >= self._dev_seq:
                return []
            skip = max(seq - self._dev_ring[0][0] + 1, 0)
            return [d for _, d in islice(self._dev_ring, skip, None)]

    def statuses(self) -> list[SourceStatus]:
        """Each source's status; a source whose read raised says so."""
        out = []
        for src in self.sources:
            st = src.status()
            if src.name in self._errors:
                st = dataclasses.replace(st, detail=f"{st.detail}; read failed: {self._errors[src.name]}")
            out.append(st)
        return out

    def lateness_ns(self) -> list[int]:
        """How late each of the last ticks (up to 4096) started after its scheduled time."""
        n = min(self._ticks, _LATENESS_KEPT)
        return list(self._lateness[:n])

    @property
    def ticks(self) -> int:
        return self._ticks

    # -- energy --------------------------------------------------------------------------------
    def energy(self, t0_ns: int, t1_ns: int) -> dict[str, EnergyWindow]:
        """Per-domain energy over [t0_ns, t1_ns] (monotonic ns); see EnergyWindow for the rules."""
        with self._lock:
            cols = {d: s.columns(t0_ns, t1_ns) for d, s in self._series.items()}
            # A full history whose oldest reading is after t0 has dropped the window's start.
            cut = {d for d, s in self._series.items() if s.size == s.capacity and (s.first_t_ns or 0) > t0_ns}
        out: dict[str, EnergyWindow] = {}
        for domain, (ts, ps, es, ms) in cols.items():
            interval = self._domain_interval_s.get(domain, 0.0)
            gap_ns = max(4 * self.period_ns, int(2 * interval * 1e9))
            w = window_energy(domain, ts, ps, es, ms, t0_ns, t1_ns, gap_ns=gap_ns, update_interval_s=interval)
            if domain in cut:
                note = f"window starts before the retained history ({self._history_len} readings)"
                w = dataclasses.replace(w, low_confidence=True, notes=(*w.notes, note))
            if domain in self._baseline:
                w = dataclasses.replace(w, idle_power_w=self._baseline[domain])
            out[domain] = w
        return out

    def idle_baseline(self, duration_s: float) -> dict[str, float]:
        """Block `duration_s`, then return (and remember) mean power per domain over that idle window.

        Later energy() windows carry it as idle_power_w; it is reported beside, never subtracted.
        """
        if not self.running:
            raise UsageError("idle_baseline() needs a running sampler: call start() first")
        if duration_s <= 0:
            raise UsageError(f"idle baseline duration must be positive, got {duration_s} s")
        t0 = self._clock()
        self._stop.wait(duration_s)
        t1 = self._clock()
        base = {d: w.power_avg_w for d, w in self.energy(t0, t1).items() if w.power_avg_w is not None}
        self._baseline = base
        return dict(base)

    @property
    def baseline(self) -> dict[str, float]:
        return dict(self._baseline)
