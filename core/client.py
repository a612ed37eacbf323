"""An async client for one agent that speaks our dataclasses, not generated types.

Errors come out as AgentError with the target's address in the message, so a fleet-wide caller can
say which host failed and why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from wattfleet.core import wire
from wattfleet.core.errors import ConfigError, WattfleetError
from wattfleet.core.model import (
    AgentInfo,
    ProfileInfo,
    RecordError,
    RunEvent,
    RunHandle,
    RunRecord,
    RunSpec,
    TelemetryBatch,
)

AUTH_HEADER = "authorization"


def bearer(token: str) -> str:
    return f"Bearer {token}"


class AgentError(WattfleetError):
    """An RPC to an agent failed; carries the target and the gRPC status code name."""

    def __init__(self, target: str, code: str, message: str) -> None:
        super().__init__(f"{target}: {code}: {message}")
        self.target = target
        self.code = code
        self.message = message


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def read_token_file(path: Path) -> str:
    token = _read(path, "token file").decode("utf-8", "replace").strip()
    if not token:
        raise ConfigError(f"token file {path} is empty; write the agent's token into it")
    return token


class AgentClient:
    """`async with AgentClient("host:port", token=...) as c: info = await c.get_info()`."""

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        tls_ca: Path | None = None,
        client_cert: Path | None = None,
        client_key: Path | None = None,
        options: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        self.target = target
        self._metadata: tuple[tuple[str, str], ...] = ((AUTH_HEADER, bearer(token)),) if token else ()
        if tls_ca or client_cert:
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca, "TLS CA file") if tls_ca else None,
                private_key=_read(client_key, "client key file") if client_key else None,
                certificate_chain=_read(client_cert, "client certificate file") if client_cert else None,
            )
            self.channel = grpc.aio.secure_channel(target, creds, options=options)
        else:
            self.channel = grpc.aio.insecure_channel(target, options=options)
        self.stub = wire.agent_stub(self.channel)

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def error(self, exc: grpc.aio.AioRpcError) -> AgentError:
        return AgentError(self.target, exc.code().name, exc.details() or "")

    async def _unary(self, method: str, request: Any, timeout_s: float | None) -> Any:
        try:
            return await getattr(self.stub, method)(request, metadata=self._metadata, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from exc

    async def health(self, timeout_s: float = 2.0) -> str:
        """The agent's standard health status ("SERVING", "NOT_SERVING"); needs no token."""
        try:
            return await wire.health_status(self.channel, timeout_s=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from exc

    async def get_info(self, timeout_s: float | None = 10.0) -> AgentInfo:
        reply = await self._unary("GetInfo", wire.get_info_request(), timeout_s)
        return wire.agent_info_from_proto(reply)

    # --- runs and telemetry --------------------------------------------------------------------

    async def list_profiles(self, timeout_s: float | None = 10.0) -> list[ProfileInfo]:
        return wire.list_profiles_from_proto(await self._unary("ListProfiles", wire.list_profiles_request(), timeout_s))

    async def start_run(self, spec: RunSpec, timeout_s: float | None = 30.0) -> RunHandle:
        return wire.run_handle_from_proto(await self._unary("StartRun", wire.run_spec_to_proto(spec), timeout_s))

    async def cancel_run(self, run_id: str, timeout_s: float | None = 10.0) -> RunHandle:
        return wire.run_handle_from_proto(await self._unary("CancelRun", wire.cancel_run_request(run_id), timeout_s))

    async def get_run(self, run_id: str, timeout_s: float | None = 30.0) -> RunRecord:
        """The run's typed record, without its per-query timings (get_run_record has those)."""
        return wire.record_from_proto(await self._unary("GetRun", wire.get_run_request(run_id), timeout_s))

    async def get_run_record_json(self, run_id: str, *, gzip: bool = True, timeout_s: float | None = 120.0) -> str:
        """The full JSON record of an ended run, joined from GetRunRecord's chunks."""
        assembler = wire.RecordAssembler()
        call = self.stub.GetRunRecord(wire.get_run_record_request(run_id, "json-gzip" if gzip else "json"),
                                      metadata=self._metadata, timeout=timeout_s)
        try:
            async for msg in call:
                if assembler.add(msg):
                    break
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from exc
        try:
            return assembler.text()
        except ValueError as exc:
            raise AgentError(self.target, "DATA_LOSS", f"run {run_id}: {exc}") from exc

    async def get_run_record(self, run_id: str, timeout_s: float | None = 120.0) -> RunRecord:
        """The full record of an ended run (every query's timestamps included)."""
        text = await self.get_run_record_json(run_id, timeout_s=timeout_s)
        try:
            return RunRecord.from_json(text)
        except RecordError as exc:
            raise AgentError(self.target, "DATA_LOSS", f"run {run_id}: {exc}") from exc

    async def list_runs(self, limit: int = 0, timeout_s: float | None = 10.0) -> list[RunRecord]:
        return wire.list_runs_from_proto(await self._unary("ListRuns", wire.list_runs_request(limit), timeout_s))

    async def watch_run_raw(self, run_id: str, after_seq: int = 0) -> AsyncIterator[Any]:
        """Wire RunEvents as they come (no conversion, no resume): for benchmarks and relays."""
        call = self.stub.WatchRun(wire.watch_run_request(run_id, after_seq), metadata=self._metadata)
        try:
            async for msg in call:
                yield msg
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from exc
        finally:
            call.cancel()

    async def watch_run(
        self, run_id: str, after_seq: int = 0, *, retries: int = 5, backoff_s: float = 0.2
    ) -> AsyncIterator[RunEvent]:
        """A run's events from after_seq on, ending after its final record.

        Reconnects on UNAVAILABLE (an agent restart, a dropped connection) from the last sequence number
        seen, so the caller sees every event once, in order. The one gap allowed is before the final record
        of a run the agent was interrupted in (the events it lost when it stopped). An agent that no longer
        holds the events answers OUT_OF_RANGE (as AgentError): fetch the rest with get_run().
        """
        seq = after_seq
        failures = 0
        while True:
            try:
                async for msg in self.watch_run_raw(run_id, seq):
                    event = wire.run_event_from_proto(msg)
                    lost_in_crash = isinstance(event.body, RunRecord) and event.body.state == "interrupted"
                    if event.seq != seq + 1 and not (lost_in_crash and event.seq > seq):
                        raise AgentError(self.target, "DATA_LOSS",
                                         f"run {run_id}: expected event {seq + 1}, got {event.seq}")
                    seq = event.seq
                    failures = 0
                    yield event
                return
            except AgentError as exc:
                if exc.code != "UNAVAILABLE" or failures >= retries:
                    raise
                failures += 1
                await asyncio.sleep(backoff_s * 2 ** (failures - 1))

    async def stream_telemetry(self, interval_s: float = 0.0, after_seq: int = 0) -> AsyncIterator[TelemetryBatch]:
        """Telemetry batches from after_seq on, until the caller stops iterating."""
        call = self.stub.StreamTelemetry(wire.stream_telemetry_request(interval_s, after_seq), metadata=self._metadata)
        try:
            async for msg in call:
                yield wire.telemetry_batch_from_proto(msg)
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from exc
        finally:
            call.cancel()
