"""Power and device telemetry: sources (NVML, Jetson INA3221/INA238, RAPL, hwmon, replay, estimated),
the sampler and energy windows (a run's energy figures are made in agent/figures/energy.py).
A pure library: no grpc, textual or zeroconf.

Domains are strings: "gpu-board:<i>" and "gpu-module:<i>" (NVML, GPU index i), "soc-rail:<name>" and
"soc-input" (Jetson), "cpu-package" and "cpu-dram" (RAPL), "hwmon:<chip>:<label>" (generic hwmon),
"estimated" (a model, never a measurement). `domain_kind("gpu-board:0") == "gpu-board"`.
"""

from __future__ import annotations

from wattfleet.agent.telemetry.devices import list_devices
from wattfleet.agent.telemetry.discover import build_sources, make_source
from wattfleet.agent.telemetry.energy import energy_from_samples, window_energy
from wattfleet.agent.telemetry.replay import ReplaySource, TraceRecorder, read_trace
from wattfleet.agent.telemetry.sampler import Sampler
from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.types import (
    DeviceInfo,
    DeviceReading,
    EnergyWindow,
    Reading,
    Sample,
    SourceStatus,
)


def domain_kind(domain: str) -> str:
    """The METRICS.md domain a domain string belongs to: "gpu-board:1" -> "gpu-board"."""
    return domain.split(":", 1)[0]


__all__ = [
    "DeviceInfo",
    "DeviceReading",
    "EnergyWindow",
    "Reading",
    "ReplaySource",
    "Sample",
    "Sampler",
    "Source",
    "SourceStatus",
    "SourceUnavailable",
    "TraceRecorder",
    "build_sources",
    "domain_kind",
    "energy_from_samples",
    "list_devices",
    "make_source",
    "read_trace",
    "window_energy",
]
