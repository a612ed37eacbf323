"""Run and telemetry RPCs: StartRun, CancelRun, GetRun, GetRunRecord, ListRuns, WatchRun, StreamTelemetry,
ListProfiles.

RunRpcs is mixed into the agent's servicer and stays thin: each method converts the request, calls the
RunManager or the TelemetryPump, and turns an RpcError into the gRPC status it names. RunServices holds
what those RPCs need (journal, sampler, run manager, telemetry pump, exporter); the server awaits
`start()` before it reports SERVING and `stop()` when it shuts down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from wattfleet.agent.service import engine
from wattfleet.agent.service.config import AgentConfig
from wattfleet.agent.service.engine import RpcError
from wattfleet.agent.service.exporter import Exporter, MetricsState
from wattfleet.agent.service.journal import Journal
from wattfleet.agent.service.runs import RunManager
from wattfleet.agent.service.telemetry_stream import TelemetryPump, open_sampler
from wattfleet.core import __version__, wire
from wattfleet.core.errors import WattfleetError

log = logging.getLogger("wattfleet.agent")
T = TypeVar("T")


class RunServices:
    """Run manager, journal, telemetry sampler and exporter for one agent."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.host_id = config.host_id
        self.journal: Journal | None = None
        self.sampler: Any = None
        self.metrics: MetricsState | None = None
        self.exporter: Exporter | None = None
        self._manager: RunManager | None = None
        self._pump: TelemetryPump | None = None
        self.interrupted: list[str] = []  # runs found cut short at start

    @property
    def manager(self) -> RunManager:
        if self._manager is None:
            raise RpcError("UNAVAILABLE", "the agent is still starting; retry in a moment")
        return self._manager

    @property
    def pump(self) -> TelemetryPump:
        if self._pump is None:
            raise RpcError("UNAVAILABLE", "the agent is still starting; retry in a moment")
        return self._pump

    async def start(self) -> None:
        if not self.host_id:
            from wattfleet.agent.service.info import default_host_id

            self.host_id = default_host_id()
        config = self.config
        self.journal = await asyncio.to_thread(Journal, config.data_dir / "journal.sqlite3")
        try:
            self.sampler = await asyncio.to_thread(open_sampler, config.power_sources, config.telemetry_rate_hz,
                                                 config.tdp_w)
        except (WattfleetError, ImportError) as exc:
            log.warning("no telemetry sampler: %s", exc)
            self.sampler = None
        self.metrics = MetricsState(self.host_id, __version__, config.labels)
        if config.metrics_port is not None:
            self.exporter = Exporter(self.metrics, config.metrics_port, addr=config.listen_host)
            port = self.exporter.start()
            log.warning("Prometheus metrics on http://%s:%d/metrics", config.listen_host, port)
        from wattfleet.agent.telemetry.cpu import CpuMeter, estimate_tdp_w

        meter = CpuMeter(tdp_w=estimate_tdp_w(getattr(self.sampler, "sources", ())))
        self._manager = RunManager(config, self.host_id, self.journal, self.metrics, sampler=self.sampler,
                                   cpu_meter=meter)
        self.interrupted = await self._manager.start()
        self._pump = TelemetryPump(self.sampler, self.metrics, config.telemetry_rate_hz)
        self._pump.start()

    async def stop(self) -> None:
        if self._manager is not None:
            await self._manager.stop(timeout_s=max(1.0, self.config.grace_s))
        if self._pump is not None:
            await self._pump.stop()
        if self.exporter is not None:
            await asyncio.to_thread(self.exporter.stop)
        if self.sampler is not None:
            await asyncio.to_thread(self.sampler.stop)
        if self.journal is not None:
            self.journal.close()


async def _abort(context: grpc.aio.ServicerContext, exc: RpcError) -> None:
    code = getattr(grpc.StatusCode, exc.code, grpc.StatusCode.UNKNOWN)
    await context.abort(code, str(exc))


async def _answer(context: grpc.aio.ServicerContext, call: Callable[[], Awaitable[T]]) -> T:
    """Await a manager call; an RpcError becomes the gRPC status it names (abort raises)."""
    try:
        return await call()
    except RpcError as exc:
        await _abort(context, exc)
        raise  # not reached: abort raises


class RunRpcs:
    runs: RunServices

    async def ListProfiles(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        profiles = await asyncio.to_thread(engine.list_profiles, self.runs.config)
        return wire.list_profiles_response(profiles)

    async def StartRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        spec = wire.run_spec_from_proto(request)
        handle = await _answer(context, lambda: self.runs.manager.start_run(spec))
        return wire.run_handle_to_proto(handle)

    async def CancelRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        handle = await _answer(context, lambda: self.runs.manager.cancel_run(wire.run_id_of(request)))
        return wire.run_handle_to_proto(handle)

    async def GetRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        record = await _answer(context, lambda: self.runs.manager.get_run(wire.run_id_of(request)))
        return wire.record_to_proto(record)

    async def GetRunRecord(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        req = wire.RecordRequest.from_proto(request)
        try:
            text = await self.runs.manager.record_json(req.run_id)
        except RpcError as exc:
            await _abort(context, exc)
            return
        size = min(wire.RECORD_CHUNK_BYTES, self.runs.config.max_message_bytes - 4096)  # room for the framing
        for chunk in await asyncio.to_thread(lambda: list(wire.record_chunks(text, req.encoding, size))):
            yield chunk

    async def ListRuns(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        runs = await _answer(context, lambda: self.runs.manager.list_runs(wire.list_limit_of(request)))
        return wire.list_runs_response(runs)

    async def WatchRun(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        req = wire.WatchRequest.from_proto(request)
        try:
            async for chunk in self.runs.manager.watch(req.run_id, req.after_seq):
                for event in chunk:
                    yield event
        except RpcError as exc:
            await _abort(context, exc)

    async def StreamTelemetry(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        req = wire.TelemetryRequest.from_proto(request)
        try:
            async with self.runs.manager.watcher_slot():
                async for batch in self.runs.pump.follow(req.interval_s, req.after_seq):
                    yield batch
        except RpcError as exc:
            await _abort(context, exc)
