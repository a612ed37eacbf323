"""Fake sysfs/procfs trees in tmp folders, laid out as the kernel lays them out on real hosts."""

from __future__ import annotations

from pathlib import Path

from wattfleet.agent.telemetry.sysfs import SysfsReader


def write(root: Path, files: dict[str, str | int]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"{content}\n")


def rapl_tree(root: Path, packages: int = 1, max_range_uj: int = 262_143_328_850,
              limit_uw: int | None = None, max_power_uw: int | None = None) -> None:
    """RAPL zones; with `limit_uw`, each package's long-term limit (constraint_0_*), and its max where given."""
    for n in range(packages):
        z = f"sys/class/powercap/intel-rapl:{n}"
        write(root, {
            f"{z}/name": f"package-{n}", f"{z}/energy_uj": 0, f"{z}/max_energy_range_uj": max_range_uj,
            f"{z}/intel-rapl:{n}:0/name": "core", f"{z}/intel-rapl:{n}:0/energy_uj": 0,
        })
        if limit_uw is not None:
            write(root, {f"{z}/constraint_0_name": "long_term", f"{z}/constraint_0_power_limit_uw": limit_uw,
                         f"{z}/constraint_0_time_window_us": 27_983_872})
            if max_power_uw is not None:
                write(root, {f"{z}/constraint_0_max_power_uw": max_power_uw})
        # The kernel lists subzones at the top level too, as symlinks; a flat copy does the same job.
        write(root, {f"sys/class/powercap/intel-rapl:{n}:0/name": "core",
                     f"sys/class/powercap/intel-rapl:{n}:0/energy_uj": 0,
                     f"sys/class/powercap/intel-rapl:{n}:1/name": "dram",
                     f"sys/class/powercap/intel-rapl:{n}:1/energy_uj": 0,
                     f"sys/class/powercap/intel-rapl:{n}:1/max_energy_range_uj": 65_712_999_613})


def jetson_orin_hwmon(root: Path) -> Path:
    """AGX Orin, JetPack 5/6: two INA3221 chips on hwmon, one channel NC, plus the shunt-sum channel."""
    chip = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1"
    write(root, {
        f"{chip}/name": "ina3221",
        f"{chip}/in1_label": "VDD_GPU_SOC", f"{chip}/in1_input": 5000, f"{chip}/curr1_input": 1000,
        f"{chip}/in2_label": "VDD_CPU_CV", f"{chip}/in2_input": 5000, f"{chip}/curr2_input": 400,
        f"{chip}/in3_label": "VIN_SYS_5V0", f"{chip}/in3_input": 5000, f"{chip}/curr3_input": 600,
        f"{chip}/in4_input": 12, f"{chip}/in5_input": 7, f"{chip}/in6_input": 9,
        f"{chip}/in7_label": "sum of shunt voltages", f"{chip}/in7_input": 28, f"{chip}/curr4_input": 2000,
    })
    chip2 = "sys/bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon2"
    write(root, {
        f"{chip2}/name": "ina3221",
        f"{chip2}/in1_label": "NC", f"{chip2}/in1_input": 0, f"{chip2}/curr1_input": 0,
        f"{chip2}/in2_label": "VDDQ_VDD2_1V8AO", f"{chip2}/in2_input": 5000, f"{chip2}/curr2_input": 200,
        f"{chip2}/in3_label": "VDD_IN", f"{chip2}/in3_input": 19000, f"{chip2}/curr3_input": 1000,
    })
    return root / chip


def jetson_iio(root: Path, with_input: bool = True) -> Path:
    """Jetson Nano / TX2, JetPack 4: INA3221 through the ina3221x iio driver."""
    dev = "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
    first = "POM_5V_IN" if with_input else "VDD_SYS_GPU"
    write(root, {
        f"{dev}/rail_name_0": first, f"{dev}/in_power0_input": 3000,
        f"{dev}/rail_name_1": "POM_5V_GPU", f"{dev}/in_power1_input": 500,
        f"{dev}/rail_name_2": "POM_5V_CPU", f"{dev}/in_voltage2_input": 5000, f"{dev}/in_current2_input": 160,
    })
    return root / dev


class DenyingReader(SysfsReader):
    """Denies files whose name matches, as the kernel does for a non-root user (tests run as root)."""

    def __init__(self, root: Path, deny: str) -> None:
        super().__init__(root)
        self.deny = deny

    def open_fd(self, path: Path) -> int:  # both one-off reads and kept files open through here
        if path.name == self.deny:
            raise PermissionError(13, "Permission denied", str(path))
        return super().open_fd(path)


class ReadOnlyReader(SysfsReader):
    """Reads everything, but writing `deny` is refused, as the kernel refuses a non-root writer."""

    def __init__(self, root: Path, deny: str) -> None:
        super().__init__(root)
        self.deny = deny

    def open_write_fd(self, path: Path) -> int:
        if path.name == self.deny:
            raise PermissionError(13, "Permission denied", str(path))
        return super().open_write_fd(path)
