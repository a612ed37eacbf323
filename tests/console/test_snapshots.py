"""Every screen of the console, as SVG snapshots at 80x24 and 160x48, and the fleet screen under NO_COLOR.

The app runs on the fixed sample fleet (tui/fleet/sample.py), or for `fleet-prometheus` on the same fleet as
a canned Prometheus answers it (tui/fleet/sample_prom.py): no clock, port or run id of this machine is in the
picture. Update with `pytest tests/console/test_snapshots.py --snapshot-update` only after looking at the new
pictures (scripts/screens.py writes the same screens into docs/screens/).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from wattfleet.tui.sampleapp import prometheus_app, sample_app
from wattfleet.tui.screens.audit import AuditScreen

SCREENS = {
    "fleet": [],
    "host": ["down", "enter"],
    "record": ["down", "enter", "enter"],
    "launcher": ["l"],
    "pareto": ["p"],
    "audit": ["a"],
    "audit-allocation": ["a", "5"],
    "fleet-prometheus": [],
    "help": ["question_mark"],
}


def settle(keys: list[str]) -> Callable[[Any], Awaitable[None]]:
    """Press the keys; on the audit screen, wait for its worker to finish before the picture is taken."""

    async def run_before(pilot: Any) -> None:
        await pilot.pause(0.3)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.2)
            screen = pilot.app.screen
            for _ in range(100):
                if not isinstance(screen, AuditScreen) or screen.outcome is not None:
                    break
                await pilot.pause(0.1)
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, screen: str, size: tuple[int, int]) -> None:
    app = prometheus_app() if screen == "fleet-prometheus" else sample_app()
    assert snap_compare(app, terminal_size=size, run_before=settle(SCREENS[screen]))


def test_fleet_screen_without_colour(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = sample_app()
    assert app.no_color  # Textual honours NO_COLOR: the shade glyphs alone carry the scale
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle([]))


async def test_every_screen_draws_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under NO_COLOR Textual's monochrome filter reads every segment's style; a segment without one ended
    the app (the heatmap's blank cells did). Each screen is opened and drawn; run_test raises what the app
    raised."""
    monkeypatch.setenv("NO_COLOR", "1")
    for keys in SCREENS.values():
        app = sample_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(keys)(pilot)
            assert pilot.app.screen.is_mounted
