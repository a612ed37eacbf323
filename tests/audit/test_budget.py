"""The budget file: what it accepts, and one line naming the file and key for what it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.synth import record
from wattfleet.core.errors import ConfigError
from wattfleet.tui.fleet.audit import audit_run_from_record, load_budget
from wattfleet.tui.fleet.audit.budget import check_groups, group_members


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budget.toml"
    path.write_text(text)
    return path


def test_a_budget_with_groups_reads(tmp_path: Path) -> None:
    b = load_budget(_write(tmp_path, 'fleet_w = 12000\ndomain = "gpu-board"\n[group.rack.r1]\nbudget_w = 4000\n'
                                     '[group.device_model."NVIDIA H100"]\nbudget_w = 6000.5\n'))
    assert (b.fleet_w, b.domain) == (12000.0, "gpu-board")
    assert [(g.name, g.budget_w) for g in b.groups] == [("rack=r1", 4000.0), ("device_model=NVIDIA H100", 6000.5)]
    runs = [audit_run_from_record(record("a", labels={"rack": "r1"}), "x"),
            audit_run_from_record(record("b", labels={"rack": "r2"}, device="NVIDIA A100"), "x")]
    assert group_members(b, runs) == {"rack=r1": {"a"}, "device_model=NVIDIA H100": {"a"}}
    assert check_groups(b, runs) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("domain = 'x'\n", "budget.toml: fleet_w: missing; give the fleet's budget in watts"),
    ("fleet_w = -5\n", "budget.toml: fleet_w: a budget cannot be negative (-5 W)"),
    ("fleet_w = 'lots'\n", "budget.toml: fleet_w: expected a number of watts, got 'lots'"),
    ("fleet_w = 10\n[group.rack.r1]\nbudget_w = -1\n", "budget.toml: group.rack.r1.budget_w: a budget cannot be "
                                                        "negative"),
    ("fleet_w = 10\n[group.rack.r1]\nnote = 'x'\n", "budget.toml: group.rack.r1: unknown key 'note'"),
    ("fleet_w = 10\n[group.rack.r1]\n", "budget.toml: group.rack.r1.budget_w: missing"),
    ("fleet_w = 10\nfleet = 3\n", "budget.toml: unknown key 'fleet'"),
    ("fleet_w = \n", "budget.toml: not valid TOML"),
])
def test_bad_budget_files_say_file_and_key_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_budget(_write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    assert expected in message.replace(str(tmp_path) + "/", "")


def test_unknown_group_label_is_an_error_and_an_empty_group_a_note(tmp_path: Path) -> None:
    runs = [audit_run_from_record(record("a", labels={"rack": "r1", "site": "s1"}), "x")]
    typo = load_budget(_write(tmp_path, "fleet_w = 10\n[group.rakc.r1]\nbudget_w = 5\n"))
    with pytest.raises(ConfigError) as info:
        check_groups(typo, runs)
    assert str(info.value) == (f"{tmp_path}/budget.toml: group.rakc: no host carries the label 'rakc' "
                               "(labels on these hosts: rack, site; built in: device_model)")
    empty = load_budget(_write(tmp_path, "fleet_w = 10\n[group.rack.r9]\nbudget_w = 5\n"))
    assert check_groups(empty, runs) == [f"{tmp_path}/budget.toml: group.rack.r9: no host in these records has "
                                         "rack = 'r9'"]
