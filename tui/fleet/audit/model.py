"""What the audit reads: one run as the audit sees it, whatever source it came from.

Run records (JSON files, or `RunRecord`s a client already holds), a Prometheus range query or a live
fleet model all become `AuditRun`s; only records.py reads a `RunRecord`. Units are in the names; a
figure that is unknown is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wattfleet.core.model import Figure, domain_kind

ESTIMATED = "estimated"
# Domains of these kinds are one per device ("gpu-board:0", "gpu-board:1"): a host's devices add up.
PER_DEVICE_KINDS = ("gpu-board", "gpu-module")


def domain_key(domain: str) -> str:
    """The key figures are added under: "gpu-board:3" -> "gpu-board"; any other domain stays itself.

    Two GPUs' boards are separate devices and add up; two hwmon sensors or a Jetson rail and its
    input may overlap, so they are never added under one key."""
    kind = domain_kind(domain)
    return kind if kind in PER_DEVICE_KINDS else domain


@dataclass(frozen=True)
class DomainPower:
    """The energy figures of one power domain over one run's measured window."""

    domain: str
    energy_j: float | None = None
    power_avg_w: float | None = None
    power_peak_w: float | None = None
    tokens_per_j: float | None = None
    j_per_token: float | None = None
    low_confidence: bool = False
    sample_rate_hz: float | None = None
    samples_w: tuple[float, ...] = ()  # power samples where the source keeps them (records do not)
    shared: bool = False  # another run or process used this domain during the window (METRICS.md)
    j_per_correct: float | None = None  # energy_j / correct answers in the window, where answers were scored

    @property
    def key(self) -> str:
        return domain_key(self.domain)

    @property
    def kind(self) -> str:
        return domain_kind(self.domain)

    @property
    def estimated(self) -> bool:
        return self.kind == ESTIMATED


@dataclass(frozen=True)
class Environment:
    """What moves the numbers, as far as the source says; "" / None / () mean unknown."""

    device_model: str = ""
    provider: str = ""
    precision: str = ""
    driver: str = ""
    power_limit_w: float | None = None
    clocks_mhz: tuple[tuple[str, float], ...] = ()
    throttle_reasons: tuple[str, ...] = ()  # every reason seen over the run (device state at start, end, ...)
    temperature_c: float | None = None  # the highest the record states


@dataclass(frozen=True)
class Success:
    """Task success of a run: the rate of correct answers with its 95% interval (issue 13)."""

    rate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    scored: int = 0  # items scored, 0 when the source does not say


@dataclass(frozen=True)
class AuditRun:
    """One measured run (or one level of a sweep) as the audit needs it."""

    source: str  # where it came from: a file path, "prometheus", ...
    run_id: str
    host: str
    profile: str
    setting: str  # the operating point's label, e.g. "rate=8" or "concurrency=4 pl=250W"
    state: str = "completed"
    valid: bool = False
    invalid_reasons: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    started_unix_ns: int = 0
    duration_s: float | None = None
    tokens_per_s: float | None = None
    ttft_p99_ms: float | None = None
    tpot_p99_ms: float | None = None
    headline_domain: str = ""  # "" when the run has no power figure
    domains: Mapping[str, DomainPower] = field(default_factory=dict)
    env: Environment = field(default_factory=Environment)
    sweep: tuple[AuditRun, ...] = ()  # one run per swept level, each an operating point
    figures: tuple[Figure, ...] = ()
    schema_version: int = 0
    contended: bool = False  # the host's CPU was busy with other work during the window (HostCpu.contended)
    success: Success | None = None  # None when no answer was scored
    correct_per_s: float | None = None

    @property
    def levels(self) -> tuple[AuditRun, ...]:
        """The measured windows of this run: each sweep level, or the run itself."""
        return self.sweep or (self,)

    @property
    def shared(self) -> bool:
        """The headline domain was shared with other work during the window."""
        h = self.headline
        return h is not None and h.shared

    @property
    def headline(self) -> DomainPower | None:
        return self.domains.get(self.headline_domain) if self.headline_domain else None

    def power_w(self, key: str) -> float | None:
        """Average power over the window summed over this run's domains under `key` (None if any is unknown)."""
        parts = [d.power_avg_w for d in self.domains.values() if d.key == key]
        if not parts or any(p is None for p in parts):
            return None
        return sum(p for p in parts if p is not None)

    def peak_w(self, key: str) -> float | None:
        """Sum of the peaks of the domains under `key`: an upper bound, as peaks need not coincide."""
        parts = [d.power_peak_w for d in self.domains.values() if d.key == key]
        if not parts or any(p is None for p in parts):
            return None
        return sum(p for p in parts if p is not None)

    def measured_keys(self) -> list[str]:
        """Domain keys with a usable average power in this run."""
        return sorted({d.key for d in self.domains.values() if d.power_avg_w is not None})


@dataclass(frozen=True)
class Rejected:
    """A record (or file) the audit could not use, and why, in words an operator can act on."""

    source: str
    reason: str
    host: str = ""


@dataclass(frozen=True)
class RunSet:
    """Runs read from one or more sources, and what was set aside."""

    runs: tuple[AuditRun, ...]
    rejected: tuple[Rejected, ...] = ()

    @property
    def hosts(self) -> list[str]:
        return sorted({r.host for r in self.runs})

    def __add__(self, other: RunSet) -> RunSet:
        """Runs from two sources together (records and a Prometheus range, say)."""
        return RunSet(self.runs + other.runs, self.rejected + other.rejected)
