"""Telemetry as clients see it: power readings per domain and device readings, in sequenced batches."""

from __future__ import annotations

from dataclasses import dataclass

from wattfleet.core.model.domains import domain_kind


@dataclass(frozen=True)
class PowerReading:
    """One power sample of one domain (monotonic t_ns on the agent)."""

    source: str
    domain: str
    t_ns: int
    power_w: float | None = None
    energy_j: float | None = None  # cumulative counter reading, where the source has one
    missing: bool = False

    @property
    def kind(self) -> str:
        return domain_kind(self.domain)


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


DEVICE_FIELDS: tuple[str, ...] = (
    "utilization_pct", "memory_used_bytes", "temperature_c", "sm_clock_mhz", "mem_clock_mhz", "power_limit_w",
)


@dataclass(frozen=True)
class TelemetryBatch:
    seq: int
    power: tuple[PowerReading, ...] = ()
    devices: tuple[DeviceReading, ...] = ()
    anchor_unix_ns: int = 0
    anchor_mono_ns: int = 0
