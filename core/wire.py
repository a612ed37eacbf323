"""The one door to the generated protobuf and gRPC code.

Everything else in wattfleet uses the frozen dataclasses here; only this module imports `*_pb2`.
Generated types travel under the `Pb` alias so a reader can tell wire objects from ours at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from wattfleet.v1 import agent_pb2 as Pb
from wattfleet.v1 import agent_pb2_grpc as PbGrpc

SERVICE_NAME: str = Pb.DESCRIPTOR.services_by_name["Agent"].full_name
FILE_DESCRIPTOR: Any = Pb.DESCRIPTOR

DEVICE_KINDS = {"gpu": Pb.DEVICE_KIND_GPU, "soc": Pb.DEVICE_KIND_SOC, "cpu": Pb.DEVICE_KIND_CPU}
_KIND_NAMES = {v: k for k, v in DEVICE_KINDS.items()}


@dataclass(frozen=True)
class Device:
    kind: str  # "gpu", "soc" or "cpu"
    index: int
    name: str
    uuid: str = ""
    memory_bytes: int = 0
    power_limit_w: float = 0.0
    driver: str = ""
    details: dict[str, str] = field(default_factory=dict)

    def to_proto(self) -> Any:
        return Pb.Device(
            kind=DEVICE_KINDS.get(self.kind, Pb.DEVICE_KIND_UNSPECIFIED),
            index=self.index,
            name=self.name,
            uuid=self.uuid,
            memory_bytes=self.memory_bytes,
            power_limit_w=self.power_limit_w,
            driver=self.driver,
            details=self.details,
        )

    @classmethod
    def from_proto(cls, msg: Any) -> Device:
        return cls(
            kind=_KIND_NAMES.get(msg.kind, "unknown"),
            index=msg.index,
            name=msg.name,
            uuid=msg.uuid,
            memory_bytes=msg.memory_bytes,
            power_limit_w=msg.power_limit_w,
            driver=msg.driver,
            details=dict(msg.details),
        )


@dataclass(frozen=True)
class ExecutionProvider:
    name: str
    works: bool
    detail: str = ""


@dataclass(frozen=True)
class PowerSource:
    name: str
    domains: tuple[str, ...]
    available: bool
    detail: str = ""


@dataclass(frozen=True)
class AgentInfo:
    host_id: str
    hostname: str
    agent_version: str
    devices: tuple[Device, ...] = ()
    runtimes: dict[str, str] = field(default_factory=dict)  # name -> version
    execution_providers: tuple[ExecutionProvider, ...] = ()
    power_sources: tuple[PowerSource, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    started_unix_ns: int = 0
    auth_required: bool = True
    tls: bool = False
    platform: str = ""
    python: str = ""

    def to_proto(self) -> Any:
        return Pb.AgentInfo(
            host_id=self.host_id,
            hostname=self.hostname,
            agent_version=self.agent_version,
            devices=[d.to_proto() for d in self.devices],
            runtimes=[Pb.Runtime(name=k, version=v) for k, v in self.runtimes.items()],
            execution_providers=[
                Pb.ExecutionProvider(name=p.name, works=p.works, detail=p.detail)
                for p in self.execution_providers
            ],
            power_sources=[
                Pb.PowerSource(name=s.name, domains=list(s.domains), available=s.available, detail=s.detail)
                for s in self.power_sources
            ],
            labels=self.labels,
            started_unix_ns=self.started_unix_ns,
            auth_required=self.auth_required,
            tls=self.tls,
            platform=self.platform,
            python=self.python,
        )

    @classmethod
    def from_proto(cls, msg: Any) -> AgentInfo:
        return cls(
            host_id=msg.host_id,
            hostname=msg.hostname,
            agent_version=msg.agent_version,
            devices=tuple(Device.from_proto(d) for d in msg.devices),
            runtimes={r.name: r.version for r in msg.runtimes},
            execution_providers=tuple(
                ExecutionProvider(p.name, p.works, p.detail) for p in msg.execution_providers
            ),
            power_sources=tuple(
                PowerSource(s.name, tuple(s.domains), s.available, s.detail) for s in msg.power_sources
            ),
            labels=dict(msg.labels),
            started_unix_ns=msg.started_unix_ns,
            auth_required=msg.auth_required,
            tls=msg.tls,
            platform=msg.platform,
            python=msg.python,
        )


# --- service plumbing ------------------------------------------------------------------------

AgentServicerBase: Any = PbGrpc.AgentServicer


def add_agent_servicer(servicer: Any, server: grpc.aio.Server) -> None:
    """Register our servicer (a subclass of AgentServicerBase) on a grpc.aio server."""
    PbGrpc.add_AgentServicer_to_server(servicer, server)


def agent_stub(channel: grpc.aio.Channel) -> Any:
    """A raw stub; prefer wattfleet.core.client.AgentClient, which speaks our dataclasses."""
    return PbGrpc.AgentStub(channel)


def get_info_request() -> Any:
    return Pb.GetInfoRequest()


# --- standard health and reflection ---------------------------------------------------------
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
