"""The one door to the generated protobuf and gRPC code: the domain model (core/model/) to and from the wire.

Only this module imports `*_pb2`. Generated types travel under the `Pb` alias so a reader can tell wire
objects from ours at a glance. Each `x_to_proto` / `x_from_proto` pair converts one concept; enums map
through one table each.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from wattfleet.core.model import (
    DEVICE_FIELDS,
    AgentInfo,
    Device,
    DeviceReading,
    DomainEnergy,
    EarlyStopping,
    ExecutionProvider,
    Figure,
    HostCpu,
    Notice,
    PhaseChange,
    PowerReading,
    PowerSource,
    ProfileInfo,
    Progress,
    QueryBatch,
    RunEvent,
    RunEventBody,
    RunHandle,
    RunRecord,
    RunSpec,
    TaskSuccess,
    TelemetryBatch,
    TokenBatch,
    Validity,
    Window,
    domain_kind,
)
from wattfleet.v1 import agent_pb2 as Pb
from wattfleet.v1 import agent_pb2_grpc as PbGrpc

SERVICE_NAME: str = Pb.DESCRIPTOR.services_by_name["Agent"].full_name
FILE_DESCRIPTOR: Any = Pb.DESCRIPTOR
RECORD_CHUNK_BYTES = 1 << 20  # GetRunRecord sends the record in pieces of at most this many bytes

# --- enums: our names <-> wire values -------------------------------------------------------------


def _enum(prefix: str, names: Iterable[str]) -> tuple[dict[str, Any], dict[Any, str]]:
    to = {n: int(getattr(Pb, prefix + n.upper().replace("-", "_"))) for n in names}
    return to, {v: k for k, v in to.items()}


_DEVICE_KINDS, _DEVICE_KIND_NAMES = _enum("DEVICE_KIND_", ("gpu", "soc", "cpu"))
_RUN_STATES, _RUN_STATE_NAMES = _enum(
    "RUN_STATE_", ("queued", "preparing", "warmup", "measuring", "completed", "failed", "cancelled", "interrupted")
)
_SCENARIOS, _SCENARIO_NAMES = _enum("SCENARIO_", ("single-stream", "server", "offline", "concurrency", "sweep"))
_PROVIDERS, _PROVIDER_NAMES = _enum("PROVIDER_", ("cpu", "cuda", "tensorrt", "tensorrt-native"))
_LEVELS, _LEVEL_NAMES = _enum("NOTICE_LEVEL_", ("info", "warning", "error"))
_DOMAIN_KINDS, _DOMAIN_KIND_NAMES = _enum(
    "DOMAIN_KIND_",
    ("gpu-board", "gpu-module", "soc-rail", "soc-input", "cpu-package", "cpu-dram", "wall", "hwmon", "estimated"),
)
_METHODS, _METHOD_NAMES = _enum("ENERGY_METHOD_", ("counter", "integral", "none"))
ENCODINGS, _ENCODING_NAMES = _enum("RECORD_ENCODING_", ("json", "json-gzip"))


def run_state_to_proto(state: str) -> Any:
    return _RUN_STATES.get(state, Pb.RUN_STATE_UNSPECIFIED)


def run_state_name(value: int) -> str:
    return _RUN_STATE_NAMES.get(value, "unspecified")


def domain_kind_to_proto(domain: str) -> Any:
    return _DOMAIN_KINDS.get(domain_kind(domain), Pb.DOMAIN_KIND_UNSPECIFIED)


def _opt(msg: Any, name: str) -> Any:
    return getattr(msg, name) if msg.HasField(name) else None


def _set_opt(msg: Any, **values: Any) -> Any:
    for name, value in values.items():
        if value is not None:
            setattr(msg, name, value)
    return msg


# --- GetInfo -------------------------------------------------------------------------------------


def device_to_proto(d: Device) -> Any:
    msg = Pb.Device(kind=_DEVICE_KINDS.get(d.kind, Pb.DEVICE_KIND_UNSPECIFIED), index=d.index, name=d.name,
                    uuid=d.uuid, memory_bytes=d.memory_bytes, driver=d.driver, details=d.details)
    return _set_opt(msg, power_limit_w=d.power_limit_w)


def device_from_proto(msg: Any) -> Device:
    return Device(kind=_DEVICE_KIND_NAMES.get(msg.kind, "unknown"), index=msg.index, name=msg.name,
                  uuid=msg.uuid, memory_bytes=msg.memory_bytes, power_limit_w=_opt(msg, "power_limit_w"),
                  driver=msg.driver, details=dict(msg.details))


def agent_info_to_proto(info: AgentInfo) -> Any:
    msg = Pb.AgentInfo(
        host_id=info.host_id,
        hostname=info.hostname,
        agent_version=info.agent_version,
        devices=[device_to_proto(d) for d in info.devices],
        runtimes=[Pb.Runtime(name=k, version=v) for k, v in info.runtimes.items()],
        execution_providers=[
            Pb.ExecutionProvider(name=p.name, works=p.works, detail=p.detail,
                                 provider=_PROVIDERS.get(p.provider, Pb.PROVIDER_UNSPECIFIED))
            for p in info.execution_providers
        ],
        power_sources=[
            Pb.PowerSource(name=s.name, available=s.available, detail=s.detail,
                           domains=[Pb.Domain(name=d, kind=domain_kind_to_proto(d)) for d in s.domains])
            for s in info.power_sources
        ],
        labels=info.labels,
        started_unix_ns=info.started_unix_ns,
        auth_required=info.auth_required,
        tls=info.tls,
        platform=info.platform,
        python=info.python,
        api=info.api,
    )
    return _set_opt(msg, tdp_w=info.tdp_w)


def agent_info_from_proto(msg: Any) -> AgentInfo:
    return AgentInfo(
        host_id=msg.host_id,
        hostname=msg.hostname,
        agent_version=msg.agent_version,
        devices=tuple(device_from_proto(d) for d in msg.devices),
        runtimes={r.name: r.version for r in msg.runtimes},
        execution_providers=tuple(
            ExecutionProvider(p.name, p.works, p.detail, _PROVIDER_NAMES.get(p.provider, ""))
            for p in msg.execution_providers
        ),
        power_sources=tuple(
            PowerSource(s.name, tuple(d.name for d in s.domains), s.available, s.detail) for s in msg.power_sources
        ),
        labels=dict(msg.labels),
        started_unix_ns=msg.started_unix_ns,
        auth_required=msg.auth_required,
        tls=msg.tls,
        platform=msg.platform,
        python=msg.python,
        api=msg.api,
        tdp_w=_opt(msg, "tdp_w"),
    )


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


# --- runs ----------------------------------------------------------------------------------------


def run_spec_to_proto(spec: RunSpec) -> Any:
    return Pb.RunSpec(profile=spec.profile, profile_toml=spec.profile_toml, overrides=spec.overrides,
                      labels=spec.labels, device=spec.device)


def run_spec_from_proto(msg: Any) -> RunSpec:
    return RunSpec(msg.profile, msg.profile_toml, dict(msg.overrides), dict(msg.labels), msg.device)


def run_handle_to_proto(h: RunHandle) -> Any:
    return Pb.RunHandle(run_id=h.run_id, state=run_state_to_proto(h.state), queue_position=h.queue_position)


def run_handle_from_proto(msg: Any) -> RunHandle:
    return RunHandle(msg.run_id, run_state_name(msg.state), msg.queue_position)


def figure_to_proto(f: Figure) -> Any:
    msg = Pb.Figure(name=f.name, unit=f.unit, domain=f.domain, definition=f.definition,
                    low_confidence=f.low_confidence)
    return _set_opt(msg, value=f.value)


def figure_from_proto(msg: Any) -> Figure:
    return Figure(msg.name, _opt(msg, "value"), msg.unit, msg.domain, msg.definition, msg.low_confidence)


def _window_to_proto(w: Window) -> Any:
    return Pb.Window(anchor_unix_ns=w.anchor_unix_ns, anchor_mono_ns=w.anchor_mono_ns, t0_ns=w.t0_ns,
                     t1_ns=w.t1_ns, duration_s=w.duration_s, ended_by=w.ended_by, notes=list(w.notes),
                     source=w.source)


def _window_from_proto(msg: Any) -> Window:
    return Window(msg.anchor_unix_ns, msg.anchor_mono_ns, msg.t0_ns, msg.t1_ns, msg.ended_by, tuple(msg.notes),
                  msg.source)


def _validity_to_proto(v: Validity) -> Any:
    msg = Pb.Validity(valid=v.valid, reasons=list(v.reasons), queries=v.queries, duration_s=v.duration_s,
                      min_duration_met=v.min_duration_met, min_queries_met=v.min_queries_met, cov_flag=v.cov_flag,
                      low_confidence=v.low_confidence, percentile_method=v.percentile_method)
    _set_opt(msg, service_time_cov=v.service_time_cov)
    es = v.early_stopping
    if es is not None:
        msg.early_stopping.CopyFrom(_set_opt(
            Pb.EarlyStopping(metric=es.metric, percentile=es.percentile, confidence=es.confidence,
                             queries=es.queries, max_overlatency=es.max_overlatency, met=es.met,
                             min_queries=es.min_queries),
            estimate_ms=es.estimate_ms, target_ms=es.target_ms, overlatency=es.overlatency,
        ))
    return msg


def _validity_from_proto(msg: Any) -> Validity:
    es = None
    if msg.HasField("early_stopping"):
        e = msg.early_stopping
        es = EarlyStopping(e.metric, e.percentile, e.confidence, e.queries, e.max_overlatency, e.met,
                           _opt(e, "estimate_ms"), _opt(e, "target_ms"), _opt(e, "overlatency"), e.min_queries)
    return Validity(msg.valid, tuple(msg.reasons), msg.queries, msg.duration_s, msg.min_duration_met,
                    msg.min_queries_met, es, _opt(msg, "service_time_cov"), msg.cov_flag, msg.low_confidence,
                    msg.percentile_method or "loadgen")


def _energy_to_proto(e: DomainEnergy) -> Any:
    msg = Pb.Energy(domain=e.domain, kind=domain_kind_to_proto(e.domain),
                    method=_METHODS.get(e.method, Pb.ENERGY_METHOD_UNSPECIFIED), sample_rate_hz=e.sample_rate_hz,
                    n_samples=e.n_samples, low_confidence=e.low_confidence, notes=list(e.notes),
                    headline=e.headline, shared=e.shared)
    return _set_opt(msg, energy_j=e.energy_j, power_avg_w=e.power_avg_w, power_peak_w=e.power_peak_w,
                    idle_power_w=e.idle_power_w)


def _energy_from_proto(msg: Any) -> DomainEnergy:
    return DomainEnergy(msg.domain, _METHOD_NAMES.get(msg.method, "none"), _opt(msg, "energy_j"),
                        _opt(msg, "power_avg_w"), _opt(msg, "power_peak_w"), msg.sample_rate_hz, msg.n_samples,
                        msg.low_confidence, tuple(msg.notes), msg.headline, msg.shared, _opt(msg, "idle_power_w"))


def record_to_proto(r: RunRecord) -> Any:
    """The typed record (everything but the per-query timings, which GetRunRecord carries)."""
    msg = Pb.RunRecord(
        run_id=r.run_id,
        state=run_state_to_proto(r.state),
        profile=str(r.profile.get("name", "")),
        started_unix_ns=r.started_unix_ns,
        ended_unix_ns=r.ended_unix_ns,
        host_id=r.host_id,
        figures=[figure_to_proto(f) for f in r.figures],
        error=r.error,
        labels=r.labels,
        last_seq=r.last_seq,
        window=_window_to_proto(r.window),
        validity=_validity_to_proto(r.validity),
        energy=[_energy_to_proto(e) for e in r.energy],
        headline_domain=r.headline_domain,
        scenario=_SCENARIOS.get(r.scenario, Pb.SCENARIO_UNSPECIFIED),
        device=r.device,
        record_bytes=r.record_bytes,
    )
    if r.host_cpu is not None:
        h = r.host_cpu
        msg.host_cpu.CopyFrom(_set_opt(Pb.HostCpu(contended=h.contended), host_util_pct=h.host_util_pct,
                                       agent_share_pct=h.agent_share_pct, tdp_w=h.tdp_w))
    if r.task is not None:
        t = r.task
        msg.task.CopyFrom(_set_opt(Pb.TaskSuccess(scorer=t.scorer, items=t.items, correct=t.correct),
                                   success_rate=t.success_rate, ci_low=t.ci_low, ci_high=t.ci_high))
    return msg


def record_from_proto(msg: Any) -> RunRecord:
    """A slim RunRecord (no queries, no profile text or environment) from the wire."""
    host_cpu = task = None
    if msg.HasField("host_cpu"):
        h = msg.host_cpu
        host_cpu = HostCpu(_opt(h, "host_util_pct"), _opt(h, "agent_share_pct"), h.contended, _opt(h, "tdp_w"))
    if msg.HasField("task"):
        t = msg.task
        task = TaskSuccess(t.scorer, t.items, t.correct, _opt(t, "success_rate"), _opt(t, "ci_low"),
                           _opt(t, "ci_high"))
    energy = [_energy_from_proto(e) for e in msg.energy]
    if msg.headline_domain and not any(e.headline for e in energy):
        energy = [DomainEnergy(msg.headline_domain, "none", headline=True), *energy]
    return RunRecord(
        run_id=msg.run_id,
        state=run_state_name(msg.state),
        host_id=msg.host_id,
        device=msg.device,
        profile={"name": msg.profile, "load": {"scenario": _SCENARIO_NAMES.get(msg.scenario, "")}},
        window=_window_from_proto(msg.window),
        figures=[figure_from_proto(f) for f in msg.figures],
        validity=_validity_from_proto(msg.validity),
        energy=energy,
        host_cpu=host_cpu,
        task=task,
        error=msg.error,
        labels=dict(msg.labels),
        started_unix_ns=msg.started_unix_ns,
        ended_unix_ns=msg.ended_unix_ns,
        last_seq=msg.last_seq,
        record_bytes=msg.record_bytes,
    )


# --- the full JSON record in chunks (GetRunRecord) -------------------------------------------------


def encode_record(record_json: str, encoding: str) -> bytes:
    data = record_json.encode("utf-8")
    return gzip.compress(data, 6) if encoding == "json-gzip" else data


def record_chunks(record_json: str, encoding: str = "json", chunk_bytes: int = RECORD_CHUNK_BYTES) -> Iterator[Any]:
    """RecordChunk messages of a JSON record, `encoding` "json" or "json-gzip"."""
    data = encode_record(record_json, encoding)
    total = len(data)
    code = ENCODINGS.get(encoding, Pb.RECORD_ENCODING_JSON)
    offset = 0
    while True:
        piece = data[offset : offset + chunk_bytes]
        last = offset + len(piece) >= total
        yield Pb.RecordChunk(data=piece, encoding=code, offset=offset, total_bytes=total, last=last)
        offset += len(piece)
        if last:
            return


@dataclass
class RecordAssembler:
    """Joins RecordChunk messages back into the JSON text; `add` returns True at the last chunk."""

    parts: list[bytes]
    encoding: str = "json"
    total_bytes: int = 0
    received: int = 0
    done: bool = False

    def add(self, msg: Any) -> bool:
        if msg.offset != self.received:
            raise ValueError(f"record chunk at offset {msg.offset}, expected {self.received}")
        self.encoding = _ENCODING_NAMES.get(msg.encoding, "json")
        self.total_bytes = msg.total_bytes
        self.parts.append(bytes(msg.data))
        self.received += len(msg.data)
        self.done = bool(msg.last)
        return self.done

    def text(self) -> str:
        if not self.done or self.received != self.total_bytes:
            raise ValueError(f"record incomplete: {self.received} of {self.total_bytes} bytes")
        data = b"".join(self.parts)
        return (gzip.decompress(data) if self.encoding == "json-gzip" else data).decode("utf-8")


def get_run_record_request(run_id: str, encoding: str = "json") -> Any:
    return Pb.GetRunRecordRequest(run_id=run_id, encoding=ENCODINGS.get(encoding, Pb.RECORD_ENCODING_JSON))


@dataclass(frozen=True)
class RecordRequest:
    run_id: str
    encoding: str

    @classmethod
    def from_proto(cls, msg: Any) -> RecordRequest:
        return cls(str(msg.run_id), _ENCODING_NAMES.get(msg.encoding, "json"))


# --- events --------------------------------------------------------------------------------------


def run_event_proto(seq: int, t_ns: int, body: RunEventBody) -> Any:
    """Build a wire RunEvent once; the agent keeps these in its ring and sends them as they are."""
    if isinstance(body, TokenBatch):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, tokens=Pb.TokenBatch(
            query_id=body.query_id, token_index=body.token_index, t_ns=body.t_ns))
    if isinstance(body, QueryBatch):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, queries=Pb.QueryBatch(
            query_id=body.query_id, scheduled_ns=body.scheduled_ns, issued_ns=body.issued_ns,
            first_token_ns=body.first_token_ns, done_ns=body.done_ns, n_out=body.n_out, samples=body.samples))
    if isinstance(body, PhaseChange):
        return Pb.RunEvent(seq=seq, t_ns=t_ns,
                           phase=Pb.PhaseChange(state=run_state_to_proto(body.state), detail=body.detail))
    if isinstance(body, Progress):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, progress=Pb.Progress(
            fraction=body.fraction, queries_done=body.queries_done, tokens_done=body.tokens_done,
            elapsed_s=body.elapsed_s, detail=body.detail))
    if isinstance(body, RunRecord):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, record=record_to_proto(body))
    return Pb.RunEvent(seq=seq, t_ns=t_ns, notice=Pb.Notice(
        level=_LEVELS.get(body.level, Pb.NOTICE_LEVEL_UNSPECIFIED), message=body.message))


def run_event_from_proto(msg: Any) -> RunEvent:
    kind = msg.WhichOneof("body")
    body: RunEventBody
    if kind == "phase":
        body = PhaseChange(run_state_name(msg.phase.state), msg.phase.detail)
    elif kind == "progress":
        p = msg.progress
        body = Progress(p.fraction, p.queries_done, p.tokens_done, p.elapsed_s, p.detail)
    elif kind == "tokens":
        t = msg.tokens
        body = TokenBatch(tuple(t.query_id), tuple(t.token_index), tuple(t.t_ns))
    elif kind == "queries":
        q = msg.queries
        body = QueryBatch(tuple(q.query_id), tuple(q.scheduled_ns), tuple(q.issued_ns), tuple(q.first_token_ns),
                          tuple(q.done_ns), tuple(q.n_out), tuple(q.samples))
    elif kind == "record":
        body = record_from_proto(msg.record)
    else:
        body = Notice(_LEVEL_NAMES.get(msg.notice.level, "info"), msg.notice.message)
    return RunEvent(msg.seq, msg.t_ns, body)


def event_seq(msg: Any) -> int:
    """The seq of a wire RunEvent or TelemetryBatch, without converting the rest."""
    return int(msg.seq)


def is_final_event(msg: Any) -> bool:
    return bool(msg.WhichOneof("body") == "record")


# --- profiles and lists --------------------------------------------------------------------------


def _profile_to_proto(p: ProfileInfo) -> Any:
    return Pb.Profile(name=p.name, description=p.description, model=p.model,
                      scenario=_SCENARIOS.get(p.scenario, Pb.SCENARIO_UNSPECIFIED),
                      provider=_PROVIDERS.get(p.provider, Pb.PROVIDER_UNSPECIFIED), toml=p.toml)


def list_profiles_response(profiles: list[ProfileInfo]) -> Any:
    return Pb.ListProfilesResponse(profiles=[_profile_to_proto(p) for p in profiles])


def list_profiles_from_proto(msg: Any) -> list[ProfileInfo]:
    return [
        ProfileInfo(p.name, p.description, p.model, _SCENARIO_NAMES.get(p.scenario, ""),
                    _PROVIDER_NAMES.get(p.provider, ""), p.toml)
        for p in msg.profiles
    ]


def list_runs_response(runs: list[RunRecord]) -> Any:
    return Pb.ListRunsResponse(runs=[record_to_proto(r) for r in runs])


def list_runs_from_proto(msg: Any) -> list[RunRecord]:
    return [record_from_proto(r) for r in msg.runs]


def get_info_request() -> Any:
    return Pb.GetInfoRequest()


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


# --- telemetry -----------------------------------------------------------------------------------


def telemetry_batch_to_proto(b: TelemetryBatch) -> Any:
    power = [
        _set_opt(Pb.PowerSample(source=p.source, domain=p.domain, t_ns=p.t_ns, missing=p.missing,
                                kind=domain_kind_to_proto(p.domain)), power_w=p.power_w, energy_j=p.energy_j)
        for p in b.power
    ]
    devices = [
        _set_opt(Pb.DeviceSample(device=d.device, t_ns=d.t_ns, throttle_reasons=list(d.throttle_reasons)),
                 **{n: getattr(d, n) for n in DEVICE_FIELDS})
        for d in b.devices
    ]
    return Pb.TelemetryBatch(seq=b.seq, power=power, devices=devices, anchor_unix_ns=b.anchor_unix_ns,
                             anchor_mono_ns=b.anchor_mono_ns)


def telemetry_batch_from_proto(msg: Any) -> TelemetryBatch:
    power = tuple(
        PowerReading(p.source, p.domain, p.t_ns, _opt(p, "power_w"), _opt(p, "energy_j"), p.missing)
        for p in msg.power
    )
    devices = tuple(
        DeviceReading(device=d.device, t_ns=d.t_ns, throttle_reasons=tuple(d.throttle_reasons),
                      **{n: _opt(d, n) for n in DEVICE_FIELDS})
        for d in msg.devices
    )
    return TelemetryBatch(msg.seq, power, devices, msg.anchor_unix_ns, msg.anchor_mono_ns)


def merge_telemetry(batches: list[Any]) -> Any:
    """One wire TelemetryBatch holding every sample of `batches`; its seq is the last one's."""
    merged = Pb.TelemetryBatch()
    for b in batches:
        merged.MergeFrom(b)
    return merged
