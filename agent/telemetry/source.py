"""The interface every power source implements, and the error a source raises when it cannot start."""

from __future__ import annotations

from wattfleet.agent.telemetry.types import DeviceReading, Reading, SourceStatus
from wattfleet.core.errors import WattfleetError


class SourceUnavailable(WattfleetError):
    """A source was looked for and cannot be used here; the message says why and what to do."""


class Source:
    """A power source: declares its domains, reads them once per tick, never raises from read().

    Subclasses set `name`, `domains` and `update_interval_s` (how often the sensor itself updates; a
    window shorter than ten of these is low-confidence) in their constructor, which raises
    SourceUnavailable when the hardware is absent or unreadable.
    """

    name: str = "source"
    domains: tuple[str, ...] = ()
    update_interval_s: float = 0.0
    detail: str = ""  # how it reads, shown by `wattfleet telemetry`

    def read(self, t_ns: int) -> list[Reading]:
        """One reading per domain. A failed read yields a missing Reading; it never raises."""
        raise NotImplementedError

    def read_devices(self, t_ns: int) -> list[DeviceReading]:
        """Device statistics (utilisation, clocks, ...) where the source has them."""
        return []

    def status(self) -> SourceStatus:
        return SourceStatus(self.name, self.domains, True, self.detail)

    def close(self) -> None:
        """Release what the source holds (NVML handle, files)."""
