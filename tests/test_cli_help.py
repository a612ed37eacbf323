"""Every subcommand's --help shows each default once, and never a default that says nothing."""

from __future__ import annotations

import re

import pytest

from wattfleet.core.cli import SUBCOMMANDS, main


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_help_shows_each_default_once(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    blocks: list[str] = []
    for line in text.splitlines():
        if re.match(r"^  \S", line):  # an option or positional starts; deeper lines continue its help
            blocks.append(line)
        elif blocks and line.startswith("   "):
            blocks[-1] += " " + line.strip()
    assert blocks, text
    for block in blocks:
        assert block.lower().count("default") <= 1, block
    for empty in ("(default: None)", "(default: [])", "(default: False)", "(default: )"):
        assert empty not in text
