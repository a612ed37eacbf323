"""Jetson power rails: INA3221 and INA238 monitors, through hwmon (JetPack 5+) or iio (older).

Domains "soc-rail:<name>" for each connected rail and "soc-input" for the module's input: the VDD_IN /
POM_5V_IN rail where the board has one, else the sum of the rails (and the status says which).
Channels labelled NC and the INA3221 shunt-sum channel are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.sysfs import KeptFile, SysfsReader
from wattfleet.agent.telemetry.types import Reading

INPUT_RAILS = frozenset({"VDD_IN", "POM_5V_IN"})


class _Rail:
    """One rail: its power file (µW on ina238, mW on iio), or its voltage (mV) and current (mA) files."""

    __slots__ = ("curr_ma", "name", "power", "power_scale", "volt_mv")

    def __init__(self, name: str, r: SysfsReader, *, power_uw: Path | None = None, power_mw: Path | None = None,
                 volt_mv: Path | None = None, curr_ma: Path | None = None) -> None:
        self.name = name
        power = power_uw or power_mw
        self.power: KeptFile | None = None if power is None else r.keep(power)
        self.power_scale = 1e-6 if power_uw is not None else 1e-3
        self.volt_mv: KeptFile | None = None if volt_mv is None else r.keep(volt_mv)
        self.curr_ma: KeptFile | None = None if curr_ma is None else r.keep(curr_ma)

    def watts(self) -> float | None:
        if self.power is not None:
            raw = self.power.read_int()
            return None if raw is None or raw < 0 else raw * self.power_scale
        if self.volt_mv is None or self.curr_ma is None:
            return None
        mv = self.volt_mv.read_int()
        if mv is None or mv < 0:
            return None
        ma = self.curr_ma.read_int()
        if ma is None:
            return None
        return max(mv * ma, 0) / 1e6  # a small negative current at idle reads as 0 W

    def close(self) -> None:
        for f in (self.power, self.volt_mv, self.curr_ma):
            if f is not None:
                f.close()


def _skip(label: str) -> bool:
    low = label.strip().lower()
    return low in {"", "nc"} or "sum of shunt" in low


def _hwmon_rails(r: SysfsReader) -> list[_Rail]:
    rails: list[_Rail] = []
    dirs = {p.resolve(): p for p in r.path("sys/class/hwmon").glob("hwmon*")}
    for p in r.path("sys/bus/i2c/drivers").glob("ina*/*/hwmon/hwmon*"):
        dirs.setdefault(p.resolve(), p)
    for chip_dir in sorted(dirs.values()):
        chip = r.try_text(chip_dir / "name")
        if chip == "ina3221":
            for i in (1, 2, 3):
                label = r.try_text(chip_dir / f"in{i}_label")
                if label is None or _skip(label) or not (chip_dir / f"curr{i}_input").exists():
                    continue
                rails.append(_Rail(label, r, volt_mv=chip_dir / f"in{i}_input", curr_ma=chip_dir / f"curr{i}_input"))
        elif chip == "ina238":
            label = next((t for t in (r.try_text(chip_dir / f) for f in ("power1_label", "in1_label", "label"))
                          if t), None) or f"ina238@{chip_dir.parent.parent.name}"
            if _skip(label):
                continue
            power = chip_dir / "power1_input"
            rails.append(_Rail(label, r, power_uw=power) if power.exists() else
                         _Rail(label, r, volt_mv=chip_dir / "in1_input", curr_ma=chip_dir / "curr1_input"))
    return rails


def _iio_rails(r: SysfsReader) -> list[_Rail]:
    rails: list[_Rail] = []
    for dev in sorted(r.path("sys/bus/i2c/drivers/ina3221x").glob("*/iio:device*")):
        for name_file in sorted(dev.glob("rail_name_*")):
            k = name_file.name.rsplit("_", 1)[1]
            label = r.try_text(name_file)
            if label is None or _skip(label):
                continue
            power = dev / f"in_power{k}_input"
            rails.append(_Rail(label, r, power_mw=power) if power.exists() else
                         _Rail(label, r, volt_mv=dev / f"in_voltage{k}_input", curr_ma=dev / f"in_current{k}_input"))
    return rails


class JetsonSource(Source):
    """Every connected INA3221/INA238 rail, plus the module input, once per tick."""

    def __init__(self, root: str | os.PathLike[str] = "/", reader: SysfsReader | None = None) -> None:
        self.update_interval_s = 0.01
        self._r = reader or SysfsReader(root)
        rails, layout = _hwmon_rails(self._r), "hwmon"
        if not rails:
            rails, layout = _iio_rails(self._r), "iio"
        if not rails:
            raise SourceUnavailable(
                f"absent: no INA3221/INA238 rails under {self._r.path('sys/class/hwmon')} (hwmon, JetPack 5+) "
                f"or {self._r.path('sys/bus/i2c/drivers/ina3221x')} (iio, older JetPack)"
            )
        self.name = f"jetson-{layout}"
        self._input = next((x for x in rails if x.name.upper() in INPUT_RAILS), None)
        self._rails = [x for x in rails if x is not self._input]
        self._rail_domains = [(x, f"soc-rail:{x.name}") for x in self._rails]
        self.domains = (*(d for _, d in self._rail_domains), "soc-input")
        total = (f"soc-input from the {self._input.name} rail" if self._input else
                 "soc-input is the sum of the rails (this board has no VDD_IN/POM_5V_IN rail)")
        self.detail = f"{len(rails)} INA3221/INA238 rail(s) through {layout}; {total}"

    def read(self, t_ns: int) -> list[Reading]:
        out: list[Reading] = []
        total: float | None = 0.0
        for rail, domain in self._rail_domains:
            w = rail.watts()
            out.append(Reading(domain, w) if w is not None else Reading(domain, None, None, True))
            total = None if w is None or total is None else total + w
        if self._input is not None:
            total = self._input.watts()
        out.append(Reading("soc-input", total) if total is not None else Reading("soc-input", None, None, True))
        return out

    def close(self) -> None:
        for rail in self._rails:
            rail.close()
        if self._input is not None:
            self._input.close()
