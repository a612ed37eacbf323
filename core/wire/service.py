"""Service plumbing: the servicer base, the stub, standard health and reflection."""

from __future__ import annotations

from typing import Any

import grpc

from wattfleet.core.wire.enums import SERVICE_NAME
from wattfleet.v1 import agent_pb2_grpc as PbGrpc

# --- service plumbing ----------------------------------------------------------------------------

AgentServicerBase: Any = PbGrpc.AgentServicer


def add_agent_servicer(servicer: Any, server: grpc.aio.Server) -> None:
    """Register our servicer (a subclass of AgentServicerBase) on a grpc.aio server."""
    PbGrpc.add_AgentServicer_to_server(servicer, server)


def agent_stub(channel: grpc.aio.Channel) -> Any:
    """A raw stub; prefer wattfleet.core.client.AgentClient, which speaks the domain model."""
    return PbGrpc.AgentStub(channel)


# --- standard health and reflection ---------------------------------------------------------------
# grpc's own generated modules count as generated code too, so they are reached only from here.

HEALTH_SERVICE_NAME = "grpc.health.v1.Health"
REFLECTION_SERVICE_NAMES = (
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


class Health:
    """Server-side standard health: NOT_SERVING until `serving()` is called."""

    def __init__(self, server: grpc.aio.Server) -> None:
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc

        self._pb = health_pb2
        self._servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def _set(self, status: Any) -> None:
        for name in ("", SERVICE_NAME):
            await self._servicer.set(name, status)

    async def not_serving(self) -> None:
        await self._set(self._pb.HealthCheckResponse.NOT_SERVING)

    async def serving(self) -> None:
        await self._set(self._pb.HealthCheckResponse.SERVING)

    async def shutdown(self) -> None:
        await self._servicer.enter_graceful_shutdown()


def add_reflection(server: grpc.aio.Server) -> None:
    """Serve reflection so grpcurl and other generic clients can list and call our methods."""
    from grpc_reflection.v1alpha import reflection

    reflection.enable_server_reflection((SERVICE_NAME, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME), server)


async def health_status(channel: grpc.aio.Channel, service: str = "", timeout_s: float = 2.0) -> str:
    """Ask a server's standard health service; returns "SERVING", "NOT_SERVING", ..."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


