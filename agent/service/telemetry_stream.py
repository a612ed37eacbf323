"""Telemetry for clients: the sampler's readings in sequenced batches, and power for /metrics.

A pump on the loop wakes at the sampling rate, takes what the sampler gathered since last time (power
samples and device stats), makes one TelemetryBatch of it, appends it to a bounded EventLog and updates
the exporter's power and energy. Watchers follow the log by cursor, like run events; a client that asks
for a longer interval gets the batches of that interval merged into one message (its seq is the last
merged batch's, so resuming from it loses nothing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from wattfleet.agent.service.engine import RpcError
from wattfleet.agent.service.events import EventLog, FellBehind, ResumeGone
from wattfleet.agent.service.exporter import MetricsState
from wattfleet.core import wire
from wattfleet.core.model import PowerReading, TelemetryBatch

log = logging.getLogger("wattfleet.agent.telemetry")

HISTORY_S = 60.0  # telemetry batches kept for resuming clients
MAX_INTERVAL_S = 60.0


class TelemetryPump:
    def __init__(self, sampler: Any, metrics: MetricsState, rate_hz: float) -> None:
        self.sampler = sampler
        self.metrics = metrics
        self.interval_s = 1.0 / max(rate_hz, 0.1)
        self.log: EventLog[Any] = EventLog(max(16, int(HISTORY_S / self.interval_s)), name="telemetry")
        self._sample_seq = 0
        self._device_seq = 0
        self._last_power: dict[tuple[str, str], tuple[int, float]] = {}
        self._integrated: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None
        self._anchor_unix_ns, self._anchor_mono_ns = time.time_ns(), time.monotonic_ns()

    def start(self) -> None:
        if self.sampler is not None:
            self._task = asyncio.create_task(self._run(), name="wattfleet-telemetry-pump")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.log.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.pump_once()

    def pump_once(self) -> None:
        """Move what the sampler has gathered into one batch (a no-op when there is nothing new)."""
        samples = self.sampler.samples_after(self._sample_seq)
        devices = self.sampler.device_samples_after(self._device_seq)
        self._device_seq = self.sampler.latest_device_seq if devices else self._device_seq
        if not samples and not devices:
            return
        self._sample_seq = samples[-1].seq if samples else self._sample_seq
        power = tuple(PowerReading(s.source, s.domain, s.t_ns, s.power_w, s.energy_j, s.missing) for s in samples)
        readings = tuple(devices)  # the sampler already hands out the model's DeviceReading
        seq = self.log.last_seq + 1
        self.log.append(wire.telemetry_batch_to_proto(
            TelemetryBatch(seq, power, readings, self._anchor_unix_ns, self._anchor_mono_ns)))
        for s in samples:
            if not s.missing:
                self._account(s.source, s.domain, s.t_ns, s.power_w, s.energy_j)

    def _account(self, source: str, domain: str, t_ns: int, power_w: float | None, energy_j: float | None) -> None:
        key = (source, domain)
        total = energy_j
        if total is None and power_w is not None:
            prev = self._last_power.get(key)
            acc = self._integrated.get(key, 0.0)
            if prev is not None and t_ns > prev[0]:
                acc += (t_ns - prev[0]) / 1e9 * (prev[1] + power_w) / 2.0
            self._integrated[key] = acc
            total = acc
        if power_w is not None:
            self._last_power[key] = (t_ns, power_w)
        self.metrics.set_power(source, domain, power_w, total)

    async def follow(self, interval_s: float, after_seq: int) -> AsyncIterator[Any]:
        """Wire TelemetryBatches after `after_seq`, merged per `interval_s` (0 = as sampled)."""
        if interval_s < 0 or interval_s > MAX_INTERVAL_S or interval_s != interval_s:
            raise RpcError(
                "INVALID_ARGUMENT", f"interval_s {interval_s}: expected 0 (agent default) to {MAX_INTERVAL_S:g} seconds"
            )
        if self.sampler is None:
            raise RpcError(
                "FAILED_PRECONDITION",
                "this agent has no power or device source to stream; see GetInfo's power_sources for why",
            )
        if after_seq > self.log.last_seq:
            raise RpcError(
                "OUT_OF_RANGE",
                f"telemetry after_seq {after_seq} is ahead of this agent's stream (last is {self.log.last_seq}; "
                "the agent restarted since); start again from after_seq=0",
            )
        try:
            self.log.check_resume(after_seq)
        except ResumeGone as exc:
            raise RpcError("OUT_OF_RANGE", str(exc).replace("GetRun", "a new stream from after_seq=0")) from exc
        seq = after_seq
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            while await self.log.wait_after(seq):
                if interval_s > self.interval_s:  # gather one interval's worth, then send it as one
                    await asyncio.sleep(max(0.0, started + interval_s - loop.time()))
                    started = loop.time()
                items = self.log.read_after(seq)
                if not items:
                    continue
                seq += len(items)
                if interval_s > self.interval_s:
                    yield wire.merge_telemetry(items)
                else:
                    for item in items:
                        yield item
        except FellBehind as exc:
            raise RpcError("OUT_OF_RANGE", str(exc).replace("GetRun", "a new stream")) from exc


def open_sampler(specs: tuple[str, ...], rate_hz: float, tdp_w: float | None = None) -> Any:
    """Build the host's sources and start a sampler; None (logged) when no source works."""
    from wattfleet.agent.telemetry import Sampler, build_sources

    sources, statuses = build_sources(specs, tdp_w=tdp_w)
    for st in statuses:
        if not st.available:
            log.info("power source %s not used: %s", st.name, st.detail)
    if not sources:
        return None
    return Sampler(sources, rate_hz=rate_hz).start()
