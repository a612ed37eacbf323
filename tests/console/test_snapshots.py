"""Every screen of the console, as SVG snapshots at 80x24 and 160x48, and the fleet screen under NO_COLOR.

The app runs on the fixed sample fleet (tui/fleet/sample.py): no clock, port or run id of this machine is
in the picture. Update with `pytest tests/console/test_snapshots.py --snapshot-update` only after looking
at the new pictures (scripts/screens.py writes the same screens into docs/screens/).
"""

from __future__ import annotations

from typing import Any

import pytest

from wattfleet.tui.sampleapp import sample_app

SCREENS = {
    "fleet": [],
    "host": ["down", "enter"],
    "record": ["down", "enter", "enter"],
    "launcher": ["l"],
    "pareto": ["p"],
    "help": ["question_mark"],
}


async def _settle(pilot: Any) -> None:
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, screen: str, size: tuple[int, int]) -> None:
    assert snap_compare(sample_app(), press=SCREENS[screen], terminal_size=size, run_before=_settle)


def test_fleet_screen_without_colour(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = sample_app()
    assert app.no_color  # Textual honours NO_COLOR: the shade glyphs alone carry the scale
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)
