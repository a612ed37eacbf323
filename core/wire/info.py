"""GetInfo: what an agent says about itself, to and from the wire."""

from __future__ import annotations

from typing import Any

from wattfleet.core.model import (
    AgentInfo,
    Device,
    ExecutionProvider,
    PowerSource,
)
from wattfleet.core.wire.enums import (
    DEVICE_KIND_NAMES,
    DEVICE_KINDS,
    PROVIDER_NAMES,
    PROVIDERS,
    domain_kind_to_proto,
    optional,
    set_optional,
)
from wattfleet.v1 import agent_pb2 as Pb

# --- GetInfo -------------------------------------------------------------------------------------


def device_to_proto(d: Device) -> Any:
    msg = Pb.Device(kind=DEVICE_KINDS.get(d.kind, Pb.DEVICE_KIND_UNSPECIFIED), index=d.index, name=d.name,
                    uuid=d.uuid, memory_bytes=d.memory_bytes, driver=d.driver, details=d.details)
    return set_optional(msg, power_limit_w=d.power_limit_w)


def device_from_proto(msg: Any) -> Device:
    return Device(kind=DEVICE_KIND_NAMES.get(msg.kind, "unknown"), index=msg.index, name=msg.name,
                  uuid=msg.uuid, memory_bytes=msg.memory_bytes, power_limit_w=optional(msg, "power_limit_w"),
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
                                 provider=PROVIDERS.get(p.provider, Pb.PROVIDER_UNSPECIFIED))
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
    return set_optional(msg, tdp_w=info.tdp_w)


def agent_info_from_proto(msg: Any) -> AgentInfo:
    return AgentInfo(
        host_id=msg.host_id,
        hostname=msg.hostname,
        agent_version=msg.agent_version,
        devices=tuple(device_from_proto(d) for d in msg.devices),
        runtimes={r.name: r.version for r in msg.runtimes},
        execution_providers=tuple(
            ExecutionProvider(p.name, p.works, p.detail, PROVIDER_NAMES.get(p.provider, ""))
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
        tdp_w=optional(msg, "tdp_w"),
    )

