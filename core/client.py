"""An async client for one agent that speaks our dataclasses, not generated types.

Errors come out as AgentError with the target's address in the message, so a fleet-wide caller can
say which host failed and why.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from wattfleet.core import wire
from wattfleet.core.errors import ConfigError, WattfleetError

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

    async def get_info(self, timeout_s: float | None = 10.0) -> wire.AgentInfo:
        reply = await self._unary("GetInfo", wire.get_info_request(), timeout_s)
        return wire.AgentInfo.from_proto(reply)
