"""Generic hwmon power and energy inputs: amdgpu's power, Intel GPUs' energy counters, and the like.

INA3221/INA238 chips are left to the Jetson source. Domain "hwmon:<chip>:<label>"; a second chip of
the same name becomes "<chip>.1", and so on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.sysfs import EnergyCounter, KeptFile, SysfsReader
from wattfleet.agent.telemetry.types import Reading

HWMON = "sys/class/hwmon"
JETSON_CHIPS = frozenset({"ina3221", "ina238"})
_CHANNEL = re.compile(r"^(power|energy)(\d+)_(input|average)$")


@dataclass
class _Channel:
    domain: str
    power: KeptFile | None  # µW
    energy: KeptFile | None  # µJ, cumulative
    counter: EnergyCounter


class HwmonSource(Source):
    """Power (µW) and energy (µJ) inputs of every hwmon chip that has them."""

    def __init__(self, root: str | os.PathLike[str] = "/", reader: SysfsReader | None = None) -> None:
        self.name = "hwmon"
        self.update_interval_s = 0.1
        self._r = reader or SysfsReader(root)
        base = self._r.path(HWMON)
        if not base.is_dir():
            raise SourceUnavailable(f"absent: no {base} on this host")
        self._channels: list[_Channel] = []
        seen: dict[str, int] = {}
        chips: list[str] = []
        for chip_dir in sorted(base.glob("hwmon*"), key=lambda p: int(p.name[5:] or 0)):
            chip = self._r.try_text(chip_dir / "name") or chip_dir.name
            if chip in JETSON_CHIPS:
                continue
            found: dict[str, dict[str, Path]] = {}
            for f in sorted(chip_dir.iterdir()):
                m = _CHANNEL.match(f.name)
                if m is None:
                    continue
                kind, idx, what = m.groups()
                slot = found.setdefault(idx, {})
                if kind == "energy":
                    slot["energy"] = f
                elif what == "input" or "power" not in slot:  # prefer the instant input to the average
                    slot["power"] = f
            if not found:
                continue
            n = seen.get(chip, 0)
            seen[chip] = n + 1
            tag = chip if n == 0 else f"{chip}.{n}"
            chips.append(tag)
            for idx, files in sorted(found.items()):
                label = (self._r.try_text(chip_dir / f"power{idx}_label")
                         or self._r.try_text(chip_dir / f"energy{idx}_label") or f"ch{idx}")
                power, energy = files.get("power"), files.get("energy")
                self._channels.append(_Channel(f"hwmon:{tag}:{label}",
                                               None if power is None else self._r.keep(power),
                                               None if energy is None else self._r.keep(energy),
                                               EnergyCounter(1e-6)))
        if not self._channels:
            raise SourceUnavailable(f"absent: no hwmon chip under {base} has power or energy inputs")
        self.domains = tuple(c.domain for c in self._channels)
        self.detail = f"hwmon power (µW) and energy (µJ) inputs of {', '.join(chips)}"

    def read(self, t_ns: int) -> list[Reading]:
        out: list[Reading] = []
        for c in self._channels:
            power_w: float | None = None
            energy_j: float | None = None
            ok = True
            if c.energy is not None:
                energy_j, derived = c.counter.update(c.energy.read_int(), t_ns)
                ok = energy_j is not None
                power_w = derived
            if ok and c.power is not None:
                raw = c.power.read_int()
                ok = raw is not None and raw >= 0
                power_w = raw / 1e6 if ok and raw is not None else None
            out.append(Reading(c.domain, power_w, energy_j) if ok else Reading(c.domain, None, None, True))
        return out

    def close(self) -> None:
        for c in self._channels:
            for f in (c.power, c.energy):
                if f is not None:
                    f.close()
