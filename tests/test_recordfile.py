"""Record files never collide and never vanish: exclusive names with a suffix, a fallback folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wattfleet.core.errors import UsageError
from wattfleet.core.recordfile import check_out_folder, write_record


def test_the_same_name_twice_gives_two_files(tmp_path: Path) -> None:
    first = write_record('{"run": 1}', tmp_path, "host-a-20261130T101010-abc.json")
    second = write_record('{"run": 2}', tmp_path, "host-a-20261130T101010-abc.json")  # same second, same prefix
    assert first.path.name == "host-a-20261130T101010-abc.json" and not first.note
    assert second.path.name == "host-a-20261130T101010-abc-1.json" and not second.note
    assert (first.path.read_text(), second.path.read_text()) == ('{"run": 1}', '{"run": 2}')


def test_a_vanished_folder_falls_back_to_the_working_directory(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    written = write_record("{}", tmp_path / "gone", "r.json")
    assert written.path == work / "r.json" and written.path.read_text() == "{}"
    assert str(tmp_path / "gone") in written.note and str(work / "r.json") in written.note


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(UsageError, match="cannot write there"):
        check_out_folder(folder)


def test_missing_folder_and_file_are_one_line_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--out .*absent: no such folder; create it"):
        check_out_folder(tmp_path / "absent")
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="not a folder"):
        check_out_folder(tmp_path / "f")
