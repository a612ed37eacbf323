"""Kept sysfs descriptors (KeptFile): one open for many reads, yet a file that vanishes, is replaced,
fails or reads garbage is seen at once, and a file that comes back is read again."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wattfleet.agent.telemetry.jetson import JetsonSource
from wattfleet.agent.telemetry.rapl import RaplSource
from wattfleet.agent.telemetry.sysfs import KeptFile, pseudo_fs_devices

from .fake_sysfs import jetson_orin_hwmon, rapl_tree


class CountingOpener:
    def __init__(self) -> None:
        self.opens = 0

    def __call__(self, path: Path) -> int:
        self.opens += 1
        return os.open(path, os.O_RDONLY)


def test_one_open_serves_many_reads_of_a_file_rewritten_in_place(tmp_path: Path) -> None:
    f = tmp_path / "energy_uj"
    f.write_text("100\n")
    opener = CountingOpener()
    kept = KeptFile(f, opener)
    assert not kept.is_open
    values = []
    for v in range(100, 110):
        f.write_text(f"{v}\n")  # truncate and rewrite: the same inode, as sysfs values change
        values.append(kept.read_int())
    assert values == list(range(100, 110))
    assert opener.opens == 1 and kept.is_open


def test_deleted_then_recreated_file_is_missing_then_reopened_and_read(tmp_path: Path) -> None:
    f = tmp_path / "curr1_input"
    f.write_text("400\n")
    opener = CountingOpener()
    kept = KeptFile(f, opener)
    assert kept.read_int() == 400
    f.unlink()
    assert kept.read_int() is None  # not the old inode's 400
    assert not kept.is_open
    assert kept.read_int() is None  # still gone: missing again, no stale value
    f.write_text("700\n")  # a new inode at the same path
    assert kept.read_int() == 700
    f.write_text("701\n")
    assert kept.read_int() == 701
    assert kept.is_open and opener.opens == 4  # first, two failed tries while gone, the reopen


def test_atomically_replaced_file_is_reopened(tmp_path: Path) -> None:
    f = tmp_path / "power1_input"
    f.write_text("5\n")
    kept = KeptFile(f)
    assert kept.read_int() == 5
    tmp = tmp_path / "power1_input.new"
    tmp.write_text("6\n")
    os.replace(tmp, f)  # the kept descriptor now points at an unlinked inode that still says 5
    assert kept.read_int() == 6


def test_garbage_is_missing_and_the_next_good_value_is_read(tmp_path: Path) -> None:
    f = tmp_path / "in1_input"
    f.write_text("5000\n")
    kept = KeptFile(f)
    assert kept.read_int() == 5000
    f.write_text("garbage\x00")
    assert kept.read_int() is None
    f.write_text("")
    assert kept.read_int() is None
    f.write_text("4999\n")
    assert kept.read_int() == 4999


def test_a_failing_kept_descriptor_is_reopened_within_the_same_read(tmp_path: Path) -> None:
    f = tmp_path / "in1_input"
    f.write_text("42\n")
    opener = CountingOpener()
    kept = KeptFile(f, opener)
    assert kept.read_int() == 42
    # Make the kept descriptor fail as a removed sysfs attribute's does (ENODEV): point its number at
    # a directory, where pread fails (EISDIR). The read must reopen the path and still answer.
    dir_fd = os.open(tmp_path, os.O_RDONLY)
    try:
        os.dup2(dir_fd, kept._fd)
    finally:
        os.close(dir_fd)
    f.write_text("43\n")
    assert kept.read_int() == 43
    assert opener.opens == 2 and kept.is_open


def test_unreadable_path_is_missing_and_read_once_it_becomes_a_file(tmp_path: Path) -> None:
    f = tmp_path / "energy1_input"
    f.mkdir()  # opens, but cannot be read
    kept = KeptFile(f)
    assert kept.read_int() is None and not kept.is_open
    f.rmdir()
    f.write_text("9\n")
    assert kept.read_int() == 9


def test_files_on_kernel_pseudo_filesystems_are_trusted_and_read_fresh(tmp_path: Path) -> None:
    assert os.stat("/proc").st_dev in pseudo_fs_devices()
    uptime = KeptFile(Path("/proc/uptime"))
    first = uptime.read_bytes()
    assert first is not None and not uptime.checks_link  # no fstat per read on procfs
    time.sleep(0.05)  # /proc/uptime counts in 10 ms steps
    second = uptime.read_bytes()
    assert second is not None and second != first  # regenerated on each pread at offset 0
    uptime.close()
    f = tmp_path / "x"
    f.write_text("1\n")
    regular = KeptFile(f)
    assert regular.read_int() == 1 and regular.checks_link
    assert os.stat(tmp_path).st_dev not in pseudo_fs_devices()


def test_jetson_rail_file_removed_and_restored_mid_run(tmp_path: Path) -> None:
    chip = jetson_orin_hwmon(tmp_path)
    src = JetsonSource(tmp_path)
    assert {r.domain: r.power_w for r in src.read(0)}["soc-rail:VDD_CPU_CV"] == pytest.approx(2.0)
    (chip / "curr2_input").unlink()
    got = {r.domain: r for r in src.read(1)}
    assert got["soc-rail:VDD_CPU_CV"].missing and got["soc-rail:VDD_GPU_SOC"].power_w == pytest.approx(5.0)
    (chip / "curr2_input").write_text("600\n")  # back, as a new file
    got = {r.domain: r for r in src.read(2)}
    assert not got["soc-rail:VDD_CPU_CV"].missing and got["soc-rail:VDD_CPU_CV"].power_w == pytest.approx(3.0)
    src.close()
    assert all(not f.is_open for rail in src._rails for f in (rail.power, rail.volt_mv, rail.curr_ma)
               if f is not None)


def test_rapl_counter_file_replaced_by_a_new_one_is_followed(tmp_path: Path) -> None:
    rapl_tree(tmp_path)
    energy = tmp_path / "sys/class/powercap/intel-rapl:0/energy_uj"
    src = RaplSource(tmp_path)
    s = 1_000_000_000
    for i in range(3):
        new = energy.with_name("energy_uj.tmp")
        new.write_text(str(i * 10_000_000))  # +10 J a second
        os.replace(new, energy)
        readings = {r.domain: r for r in src.read(i * s)}
    assert readings["cpu-package"].power_w == pytest.approx(10.0)
    assert readings["cpu-package"].energy_j == pytest.approx(20.0)
    src.close()


def test_a_kept_file_denied_by_the_reader_is_missing(tmp_path: Path) -> None:
    from .fake_sysfs import DenyingReader

    f = tmp_path / "energy_uj"
    f.write_text("5\n")
    assert DenyingReader(tmp_path, "energy_uj").keep(f).read_int() is None
    assert DenyingReader(tmp_path, "other").keep(f).read_int() == 5
