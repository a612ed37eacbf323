"""`wattfleet tui --records DIR` on recorded runs: records (and a file that is not one) fill the table,
the `/` filter narrows it, and the Pareto view marks its frontier; no agent is running."""

from __future__ import annotations

import argparse
from pathlib import Path

from wattfleet.tui.app import WattfleetApp
from wattfleet.tui.cli import _parser, build_sources
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.pareto import frontier
from wattfleet.tui.fleet.sample import sample_model
from wattfleet.tui.screens.fleet import FleetScreen
from wattfleet.tui.screens.pareto import GLYPH_BAD, GLYPH_FRONT, ParetoScreen


def _records(folder: Path) -> int:
    n = 0
    for host in sample_model().hosts.values():
        for record in host.results.values():
            (folder / f"{record.run_id}.json").write_text(record.to_json())
            n += 1
    (folder / "notes.json").write_text("{ this is not a record")
    return n


async def test_records_filter_and_pareto_offline(tmp_path: Path) -> None:
    written = _records(tmp_path)
    args: argparse.Namespace = _parser().parse_args(["--records", str(tmp_path)])
    model = FleetModel()
    sources, live = build_sources(args, model)
    assert live is None  # saved records only: nothing is browsed or dialled
    app = WattfleetApp(model, sources, live=None, tick_s=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(50):
            await pilot.pause(0.1)
            if sum(len(h.results) for h in model.hosts.values()) == written:
                break
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        await pilot.pause(0.3)
        bad = model.hosts[f"file:{tmp_path / 'notes.json'}"]
        assert bad.status == "error" and "not a run record" in bad.reason
        assert len(screen.rows) == 8  # seven hosts and the bad file

        await pilot.press("slash", *"site=edge & tokens_per_j>3", "enter")
        await pilot.pause(0.3)
        assert sorted(r.host for r in screen.rows) == ["edge-orin-3", "edge-orin-4"]
        await pilot.press("slash", *"power>", "enter")  # a bad filter: said, the old one kept
        await pilot.pause(0.2)
        assert sorted(r.host for r in screen.rows) == ["edge-orin-3", "edge-orin-4"]
        await pilot.press("escape", "escape")
        await pilot.pause(0.3)
        assert len(screen.rows) == 8

        await pilot.press("p")
        await pilot.pause(0.3)
        pareto = app.screen
        assert isinstance(pareto, ParetoScreen)
        front = frontier(pareto.pts)
        assert front and all(pareto.pts[i].ok for i in front)
        plot = str(pareto.query_one("#pareto-plot").render())
        assert GLYPH_FRONT in plot and GLYPH_BAD in plot  # the invalid L40S run is marked, off the frontier
        await pilot.press("x")
        await pilot.pause(0.2)
        assert pareto.latency == "tpot_p99"
        await pilot.press("y", "y", "y")  # tokens/J -> J/token -> J per correct -> success rate (present here)
        await pilot.pause(0.2)
        assert pareto.y == "success_rate" and all(0 < p.y <= 1 for p in pareto.pts)
