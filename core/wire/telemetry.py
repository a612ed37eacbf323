"""Telemetry batches to and from the wire."""

from __future__ import annotations

from typing import Any

from wattfleet.core.model import (
    DEVICE_FIELDS,
    DeviceReading,
    PowerReading,
    TelemetryBatch,
)
from wattfleet.core.wire.enums import (
    domain_kind_to_proto,
    optional,
    set_optional,
)
from wattfleet.v1 import agent_pb2 as Pb

# --- telemetry -----------------------------------------------------------------------------------


def telemetry_batch_to_proto(b: TelemetryBatch) -> Any:
    power = [
        set_optional(Pb.PowerReading(source=p.source, domain=p.domain, t_ns=p.t_ns, missing=p.missing,
                                kind=domain_kind_to_proto(p.domain)), power_w=p.power_w, energy_j=p.energy_j)
        for p in b.power
    ]
    devices = [
        set_optional(Pb.DeviceReading(device=d.device, t_ns=d.t_ns, throttle_reasons=list(d.throttle_reasons)),
                 **{n: getattr(d, n) for n in DEVICE_FIELDS})
        for d in b.devices
    ]
    return Pb.TelemetryBatch(seq=b.seq, power=power, devices=devices, anchor_unix_ns=b.anchor_unix_ns,
                             anchor_mono_ns=b.anchor_mono_ns)


def telemetry_batch_from_proto(msg: Any) -> TelemetryBatch:
    power = tuple(
        PowerReading(p.source, p.domain, p.t_ns, optional(p, "power_w"), optional(p, "energy_j"), p.missing)
        for p in msg.power
    )
    devices = tuple(
        DeviceReading(device=d.device, t_ns=d.t_ns, throttle_reasons=tuple(d.throttle_reasons),
                      **{n: optional(d, n) for n in DEVICE_FIELDS})
        for d in msg.devices
    )
    return TelemetryBatch(msg.seq, power, devices, msg.anchor_unix_ns, msg.anchor_mono_ns)


def merge_telemetry(batches: list[Any]) -> Any:
    """One wire TelemetryBatch holding every sample of `batches`; its seq is the last one's."""
    merged = Pb.TelemetryBatch()
    for b in batches:
        merged.MergeFrom(b)
    return merged
