"""The records the telemetry layer hands out: samples, device stats, source status, energy windows.

Units are in the field names and converted once, where a value enters (a source's read). Every
timestamp is `time.monotonic_ns()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

# One type for a device's reading, from the sampler to the wire (re-exported for the telemetry layer).
from wattfleet.core.model.telemetry import DeviceReading as DeviceReading


@dataclass(frozen=True, slots=True)
class Sample:
    """One power reading of one domain.

    `energy_j` is the cumulative counter (already wrap-corrected) where the domain has one, else None.
    `missing` means the read failed (vanished file, garbage, a value going backwards, an NVML error);
    power_w and energy_j are then None and the other domains went on.
    """

    seq: int
    t_ns: int
    source: str
    domain: str
    power_w: float | None
    energy_j: float | None
    missing: bool = False


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source looked for on this host: found and working, or why not (absent, no permission, ...)."""

    name: str
    domains: tuple[str, ...]
    available: bool
    detail: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device as inventoried once: a GPU (NVML), the CPU, or the SoC of a Jetson."""

    kind: str  # "gpu" | "soc" | "cpu"
    index: int
    name: str
    uuid: str = ""
    memory_bytes: int = 0
    power_limit_w: float = 0.0  # 0 when unknown
    driver: str = ""


@dataclass(frozen=True, slots=True)
class EnergyWindow:
    """Energy of one domain over [t0_ns, t1_ns].

    method "counter": difference of the domain's energy counter; "integral": trapezoidal integral of
    sampled power. energy_j, power_avg_w and power_peak_w are None when the window holds no usable data.
    Spans without data (missing samples, stalls, window edges outside the recorded history) are bridged
    (interior gaps linearly, edges by holding the nearest reading), listed in missing_spans and make the
    window low-confidence. `notes` says, in words, why a window is low-confidence.
    """

    domain: str
    t0_ns: int
    t1_ns: int
    energy_j: float | None
    power_avg_w: float | None
    power_peak_w: float | None
    method: str  # "counter" | "integral" | "none"
    sample_rate_hz: float
    n_samples: int
    low_confidence: bool
    missing_spans: list[tuple[int, int]] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    idle_power_w: float | None = None  # from Sampler.idle_baseline(), reported beside, never subtracted

    @property
    def duration_s(self) -> float:
        return (self.t1_ns - self.t0_ns) / 1e9


class Reading(NamedTuple):
    """What a source returns per domain and tick; the sampler turns it into a Sample.

    t_ns None = the tick's time (replayed traces carry their own timestamps).
    """

    domain: str
    power_w: float | None
    energy_j: float | None = None
    missing: bool = False
    t_ns: int | None = None


def missing_reading(domain: str) -> Reading:
    return Reading(domain, None, None, True)
