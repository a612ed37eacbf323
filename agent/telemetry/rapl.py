"""Linux RAPL through powercap: package and DRAM energy counters, wrap-corrected at max_energy_range_uj."""

from __future__ import annotations

import os
from dataclasses import dataclass

from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.sysfs import EnergyCounter, KeptFile, SysfsReader
from wattfleet.agent.telemetry.types import Reading

POWERCAP = "sys/class/powercap"


@dataclass
class _Zone:
    file: KeptFile  # energy_uj
    domain: str
    counter: EnergyCounter


def _domain_of(name: str) -> str | None:
    if name.startswith("package"):
        return "cpu-package"
    if name == "dram":
        return "cpu-dram"
    return None  # core, uncore, psys: parts of or beyond the package; not reported


class RaplSource(Source):
    """Sums each domain over sockets: one `cpu-package` (and `cpu-dram`) reading per tick."""

    def __init__(self, root: str | os.PathLike[str] = "/", reader: SysfsReader | None = None) -> None:
        self.name = "rapl"
        self.update_interval_s = 0.001
        self._r = reader or SysfsReader(root)
        base = self._r.path(POWERCAP)
        zone_dirs = sorted(base.glob("intel-rapl:*")) if base.is_dir() else []
        if not zone_dirs:
            raise SourceUnavailable(
                f"absent: no RAPL zones under {base} (not an x86 CPU with RAPL, or the powercap driver "
                "is not loaded: try `modprobe intel_rapl_msr`)"
            )
        self._zones: list[_Zone] = []
        for d in zone_dirs:
            name = self._r.try_text(d / "name") or ""
            domain = _domain_of(name)
            if domain is None:
                continue
            energy = d / "energy_uj"
            try:
                self._r.read_int(energy)  # probe: fail here, with a reason, not silently later
            except PermissionError:
                raise SourceUnavailable(
                    f"no permission: {energy} is readable only by root (Linux 5.10 and newer); run the "
                    "agent as root, or grant read access with `sudo chmod o+r "
                    f"{base}/intel-rapl:*/energy_uj` (until reboot) or a udev rule"
                ) from None
            except (OSError, ValueError) as exc:
                raise SourceUnavailable(f"unreadable: {energy}: {exc}") from None
            max_range = self._r.try_int(d / "max_energy_range_uj")
            counter = EnergyCounter(1e-6, max_range=max_range or None)
            self._zones.append(_Zone(self._r.keep(energy), domain, counter))
        if not self._zones:
            raise SourceUnavailable(f"absent: RAPL zones under {base} have no package or dram zone")
        self.domains = tuple(dict.fromkeys(z.domain for z in self._zones))
        self._groups = [(d, [z for z in self._zones if z.domain == d]) for d in self.domains]
        sockets = sum(1 for z in self._zones if z.domain == "cpu-package")
        self.detail = (f"powercap energy_uj counters ({sockets} package zone(s) summed), "
                       "wrap-corrected at max_energy_range_uj")

    def read(self, t_ns: int) -> list[Reading]:
        # Zones come grouped by domain in self._groups: no dicts or sets built per tick.
        out: list[Reading] = []
        for domain, zones in self._groups:
            power: float | None = 0.0
            energy = 0.0
            ok = True
            for z in zones:
                e, p = z.counter.update(z.file.read_int(), t_ns)
                if e is None:
                    ok = False  # the other zones are still read: their counters must stay current
                    continue
                energy += e
                power = None if power is None or p is None else power + p
            out.append(Reading(domain, power, energy) if ok else Reading(domain, None, None, True))
        return out

    def close(self) -> None:
        for z in self._zones:
            z.file.close()
