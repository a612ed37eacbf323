"""Small test sources with known outputs (the hardware fakes live in fake_sysfs.py and fake_nvml.py)."""

from __future__ import annotations

import math

from wattfleet.agent.telemetry import Reading, Source


class ConstSource(Source):
    """Constant power on one domain, optionally with a counter that integrates it exactly."""

    def __init__(self, domain: str = "test", power_w: float = 50.0, counter: bool = False,
                 name: str = "const") -> None:
        self.name = name
        self.domains = (domain,)
        self.power_w = power_w
        self.counter = counter
        self._t0: int | None = None

    def read(self, t_ns: int) -> list[Reading]:
        if self._t0 is None:
            self._t0 = t_ns
        e = self.power_w * (t_ns - self._t0) / 1e9 if self.counter else None
        return [Reading(self.domains[0], self.power_w, e)]


class BrokenSource(Source):
    """Raises from read(), as a buggy source would."""

    def __init__(self) -> None:
        self.name = "broken"
        self.domains = ("broken",)

    def read(self, t_ns: int) -> list[Reading]:
        raise RuntimeError("sensor driver exploded")


def sine_power(t_s: float) -> float:
    return 100.0 + 40.0 * math.sin(2 * math.pi * t_s / 3.7)


def sine_energy(a_s: float, b_s: float) -> float:
    """Exact integral of sine_power over [a, b]."""
    k = 2 * math.pi / 3.7
    return 100.0 * (b_s - a_s) + 40.0 / k * (math.cos(k * a_s) - math.cos(k * b_s))
