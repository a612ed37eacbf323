"""The one door to the generated protobuf and gRPC code.

Everything else in wattfleet uses the frozen dataclasses here; only this module imports `*_pb2`.
Generated types travel under the `Pb` alias so a reader can tell wire objects from ours at a glance.
"""

from __future__ import annotations

import base64
import gzip
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


# --- runs and telemetry (issue 5) ------------------------------------------------------------

RUN_STATES: dict[str, Any] = {
    "queued": Pb.RUN_STATE_QUEUED,
    "preparing": Pb.RUN_STATE_PREPARING,
    "warmup": Pb.RUN_STATE_WARMUP,
    "measuring": Pb.RUN_STATE_MEASURING,
    "completed": Pb.RUN_STATE_COMPLETED,
    "failed": Pb.RUN_STATE_FAILED,
    "cancelled": Pb.RUN_STATE_CANCELLED,
    "interrupted": Pb.RUN_STATE_INTERRUPTED,
}
_RUN_STATE_NAMES = {v: k for k, v in RUN_STATES.items()}
ENDED_STATES = frozenset({"completed", "failed", "cancelled", "interrupted"})


def run_state_to_proto(state: str) -> Any:
    return RUN_STATES.get(state, Pb.RUN_STATE_UNSPECIFIED)


def run_state_name(value: int) -> str:
    return _RUN_STATE_NAMES.get(value, "unspecified")


@dataclass(frozen=True)
class RunSpec:
    """What to run: a profile name the agent knows, or an inline profile TOML, plus overrides."""

    profile: str = ""
    profile_toml: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    device: str = ""

    def to_proto(self) -> Any:
        return Pb.RunSpec(
            profile=self.profile,
            profile_toml=self.profile_toml,
            overrides=self.overrides,
            labels=self.labels,
            device=self.device,
        )

    @classmethod
    def from_proto(cls, msg: Any) -> RunSpec:
        return cls(msg.profile, msg.profile_toml, dict(msg.overrides), dict(msg.labels), msg.device)


@dataclass(frozen=True)
class RunHandle:
    run_id: str
    state: str
    queue_position: int = 0

    def to_proto(self) -> Any:
        return Pb.RunHandle(
            run_id=self.run_id, state=run_state_to_proto(self.state), queue_position=self.queue_position
        )

    @classmethod
    def from_proto(cls, msg: Any) -> RunHandle:
        return cls(msg.run_id, run_state_name(msg.state), msg.queue_position)


@dataclass(frozen=True)
class Figure:
    """One figure as METRICS.md defines it; the engine's figure dicts have the same keys."""

    name: str
    value: float
    unit: str = ""
    domain: str = ""
    definition: str = ""
    low_confidence: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Figure:
        return cls(
            name=str(d["name"]),
            value=float(d["value"]),
            unit=str(d.get("unit") or ""),
            domain=str(d.get("domain") or ""),
            definition=str(d.get("definition") or ""),
            low_confidence=bool(d.get("low_confidence", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "domain": self.domain,
            "definition": self.definition,
            "low_confidence": self.low_confidence,
        }

    def to_proto(self) -> Any:
        return Pb.Figure(
            name=self.name,
            value=self.value,
            unit=self.unit,
            domain=self.domain,
            definition=self.definition,
            low_confidence=self.low_confidence,
        )

    @classmethod
    def from_proto(cls, msg: Any) -> Figure:
        return cls(msg.name, msg.value, msg.unit, msg.domain, msg.definition, msg.low_confidence)


RECORD_GZ_PREFIX = "gz64:"


def pack_record_json(text: str, limit_bytes: int) -> str:
    """The record JSON as sent: as is when it fits `limit_bytes`, else "gz64:" + base64(gzip(JSON)).

    Raw per-token timestamps make long runs' records larger than gRPC's message limit; they compress
    well (digits). RunSummary.from_proto undoes this, so callers of AgentClient only see plain JSON.
    """
    if len(text) <= limit_bytes and not text.startswith(RECORD_GZ_PREFIX):
        return text
    return RECORD_GZ_PREFIX + base64.b64encode(gzip.compress(text.encode("utf-8"), 6)).decode("ascii")


def unpack_record_json(text: str) -> str:
    if not text.startswith(RECORD_GZ_PREFIX):
        return text
    return gzip.decompress(base64.b64decode(text[len(RECORD_GZ_PREFIX) :])).decode("utf-8")


@dataclass(frozen=True)
class RunSummary:
    """The wire RunRecord: state, figures and (from GetRun and the summary event) the full record JSON.

    On the wire record_json may be packed (see pack_record_json); from_proto unpacks it.
    """

    run_id: str
    state: str
    profile: str = ""
    started_unix_ns: int = 0
    ended_unix_ns: int = 0
    host_id: str = ""
    figures: tuple[Figure, ...] = ()
    error: str = ""
    record_json: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    last_seq: int = 0

    def to_proto(self) -> Any:
        return Pb.RunRecord(
            run_id=self.run_id,
            state=run_state_to_proto(self.state),
            profile=self.profile,
            started_unix_ns=self.started_unix_ns,
            ended_unix_ns=self.ended_unix_ns,
            host_id=self.host_id,
            figures=[f.to_proto() for f in self.figures],
            error=self.error,
            record_json=self.record_json,
            labels=self.labels,
            last_seq=self.last_seq,
        )

    @classmethod
    def from_proto(cls, msg: Any) -> RunSummary:
        return cls(
            run_id=msg.run_id,
            state=run_state_name(msg.state),
            profile=msg.profile,
            started_unix_ns=msg.started_unix_ns,
            ended_unix_ns=msg.ended_unix_ns,
            host_id=msg.host_id,
            figures=tuple(Figure.from_proto(f) for f in msg.figures),
            error=msg.error,
            record_json=unpack_record_json(msg.record_json),
            labels=dict(msg.labels),
            last_seq=msg.last_seq,
        )


@dataclass(frozen=True)
class PhaseChange:
    state: str
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    fraction: float
    queries_done: int = 0
    tokens_done: int = 0
    elapsed_s: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class TokenBatch:
    """Columnar: token i of the batch is (request_id[i], token_index[i], t_ns[i])."""

    request_id: tuple[int, ...]
    token_index: tuple[int, ...]
    t_ns: tuple[int, ...]


@dataclass(frozen=True)
class QueryBatch:
    """Columnar per-query timings (warm-up queries are not sent)."""

    request_id: tuple[int, ...]
    scheduled_ns: tuple[int, ...]
    issued_ns: tuple[int, ...]
    first_token_ns: tuple[int, ...]
    done_ns: tuple[int, ...]
    n_out: tuple[int, ...]


@dataclass(frozen=True)
class Notice:
    level: str
    message: str


RunEventBody = PhaseChange | Progress | TokenBatch | QueryBatch | RunSummary | Notice


@dataclass(frozen=True)
class RunEvent:
    seq: int
    t_ns: int
    body: RunEventBody

    def to_proto(self) -> Any:
        return run_event_proto(self.seq, self.t_ns, self.body)

    @classmethod
    def from_proto(cls, msg: Any) -> RunEvent:
        kind = msg.WhichOneof("body")
        body: RunEventBody
        if kind == "phase":
            body = PhaseChange(run_state_name(msg.phase.state), msg.phase.detail)
        elif kind == "progress":
            p = msg.progress
            body = Progress(p.fraction, p.queries_done, p.tokens_done, p.elapsed_s, p.detail)
        elif kind == "tokens":
            t = msg.tokens
            body = TokenBatch(tuple(t.request_id), tuple(t.token_index), tuple(t.t_ns))
        elif kind == "queries":
            q = msg.queries
            body = QueryBatch(
                tuple(q.request_id),
                tuple(q.scheduled_ns),
                tuple(q.issued_ns),
                tuple(q.first_token_ns),
                tuple(q.done_ns),
                tuple(q.n_out),
            )
        elif kind == "summary":
            body = RunSummary.from_proto(msg.summary)
        else:
            body = Notice(msg.notice.level, msg.notice.message)
        return cls(msg.seq, msg.t_ns, body)


def run_event_proto(seq: int, t_ns: int, body: RunEventBody) -> Any:
    """Build a wire RunEvent once; the agent keeps these in its ring and sends them as they are."""
    if isinstance(body, TokenBatch):
        return Pb.RunEvent(
            seq=seq,
            t_ns=t_ns,
            tokens=Pb.TokenBatch(request_id=body.request_id, token_index=body.token_index, t_ns=body.t_ns),
        )
    if isinstance(body, QueryBatch):
        return Pb.RunEvent(
            seq=seq,
            t_ns=t_ns,
            queries=Pb.QueryBatch(
                request_id=body.request_id,
                scheduled_ns=body.scheduled_ns,
                issued_ns=body.issued_ns,
                first_token_ns=body.first_token_ns,
                done_ns=body.done_ns,
                n_out=body.n_out,
            ),
        )
    if isinstance(body, PhaseChange):
        return Pb.RunEvent(
            seq=seq, t_ns=t_ns, phase=Pb.PhaseChange(state=run_state_to_proto(body.state), detail=body.detail)
        )
    if isinstance(body, Progress):
        return Pb.RunEvent(
            seq=seq,
            t_ns=t_ns,
            progress=Pb.Progress(
                fraction=body.fraction,
                queries_done=body.queries_done,
                tokens_done=body.tokens_done,
                elapsed_s=body.elapsed_s,
                detail=body.detail,
            ),
        )
    if isinstance(body, RunSummary):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, summary=body.to_proto())
    return Pb.RunEvent(seq=seq, t_ns=t_ns, notice=Pb.Notice(level=body.level, message=body.message))


def event_seq(msg: Any) -> int:
    """The seq of a wire RunEvent or TelemetryBatch, without converting the rest."""
    return int(msg.seq)


@dataclass(frozen=True)
class ProfileInfo:
    name: str
    description: str = ""
    model: str = ""
    scenario: str = ""
    provider: str = ""
    toml: str = ""

    def to_proto(self) -> Any:
        return Pb.Profile(
            name=self.name,
            description=self.description,
            model=self.model,
            scenario=self.scenario,
            provider=self.provider,
            toml=self.toml,
        )

    @classmethod
    def from_proto(cls, msg: Any) -> ProfileInfo:
        return cls(msg.name, msg.description, msg.model, msg.scenario, msg.provider, msg.toml)


def list_profiles_response(profiles: list[ProfileInfo]) -> Any:
    return Pb.ListProfilesResponse(profiles=[p.to_proto() for p in profiles])


def list_profiles_from_proto(msg: Any) -> list[ProfileInfo]:
    return [ProfileInfo.from_proto(p) for p in msg.profiles]


def list_runs_response(runs: list[RunSummary]) -> Any:
    return Pb.ListRunsResponse(runs=[r.to_proto() for r in runs])


def list_runs_from_proto(msg: Any) -> list[RunSummary]:
    return [RunSummary.from_proto(r) for r in msg.runs]


def list_profiles_request() -> Any:
    return Pb.ListProfilesRequest()


def cancel_run_request(run_id: str) -> Any:
    return Pb.CancelRunRequest(run_id=run_id)


def get_run_request(run_id: str) -> Any:
    return Pb.GetRunRequest(run_id=run_id)


def list_runs_request(limit: int = 0) -> Any:
    return Pb.ListRunsRequest(limit=limit)


def watch_run_request(run_id: str, after_seq: int = 0) -> Any:
    return Pb.WatchRunRequest(run_id=run_id, after_seq=after_seq)


def stream_telemetry_request(interval_s: float = 0.0, after_seq: int = 0) -> Any:
    return Pb.StreamTelemetryRequest(interval_s=interval_s, after_seq=after_seq)


@dataclass(frozen=True)
class TelemetryRequest:
    interval_s: float
    after_seq: int

    @classmethod
    def from_proto(cls, msg: Any) -> TelemetryRequest:
        return cls(float(msg.interval_s), int(msg.after_seq))


@dataclass(frozen=True)
class WatchRequest:
    run_id: str
    after_seq: int

    @classmethod
    def from_proto(cls, msg: Any) -> WatchRequest:
        return cls(str(msg.run_id), int(msg.after_seq))


def run_id_of(msg: Any) -> str:
    """The run_id of a CancelRunRequest or GetRunRequest."""
    return str(msg.run_id)


def list_limit_of(msg: Any) -> int:
    return int(msg.limit)


@dataclass(frozen=True)
class PowerReading:
    """One power sample on the wire (the telemetry layer's Sample, minus its seq)."""

    source: str
    domain: str
    t_ns: int
    power_w: float | None = None
    energy_j: float | None = None
    missing: bool = False


@dataclass(frozen=True)
class DeviceReading:
    device: str
    t_ns: int
    utilization_pct: float | None = None
    memory_used_bytes: float | None = None
    temperature_c: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    power_limit_w: float | None = None
    throttle_reasons: tuple[str, ...] = ()


_DEVICE_FIELDS = (
    "utilization_pct",
    "memory_used_bytes",
    "temperature_c",
    "sm_clock_mhz",
    "mem_clock_mhz",
    "power_limit_w",
)


@dataclass(frozen=True)
class TelemetryBatch:
    seq: int
    power: tuple[PowerReading, ...] = ()
    devices: tuple[DeviceReading, ...] = ()

    def to_proto(self) -> Any:
        power = []
        for p in self.power:
            msg = Pb.PowerSample(source=p.source, domain=p.domain, t_ns=p.t_ns, missing=p.missing)
            if p.power_w is not None:
                msg.power_w = p.power_w
            if p.energy_j is not None:
                msg.energy_j = p.energy_j
            power.append(msg)
        devices = []
        for d in self.devices:
            dmsg = Pb.DeviceSample(device=d.device, t_ns=d.t_ns, throttle_reasons=list(d.throttle_reasons))
            for name in _DEVICE_FIELDS:
                value = getattr(d, name)
                if value is not None:
                    setattr(dmsg, name, value)
            devices.append(dmsg)
        return Pb.TelemetryBatch(seq=self.seq, power=power, devices=devices)

    @classmethod
    def from_proto(cls, msg: Any) -> TelemetryBatch:
        power = tuple(
            PowerReading(
                source=p.source,
                domain=p.domain,
                t_ns=p.t_ns,
                power_w=p.power_w if p.HasField("power_w") else None,
                energy_j=p.energy_j if p.HasField("energy_j") else None,
                missing=p.missing,
            )
            for p in msg.power
        )
        devices = tuple(
            DeviceReading(
                device=d.device,
                t_ns=d.t_ns,
                throttle_reasons=tuple(d.throttle_reasons),
                **{n: (getattr(d, n) if d.HasField(n) else None) for n in _DEVICE_FIELDS},
            )
            for d in msg.devices
        )
        return cls(msg.seq, power, devices)


def merge_telemetry(batches: list[Any]) -> Any:
    """One wire TelemetryBatch holding every sample of `batches`; its seq is the last one's."""
    merged = Pb.TelemetryBatch()
    for b in batches:
        merged.MergeFrom(b)
    return merged
