"""The audit screen (`a` on the fleet screen): the same figures as `wattfleet audit` on the same runs, budget
and SLO; no budget said as such; a budget naming a label no host has said in one line while the rest is
still audited; only the runs on screen; and nothing changed by it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Static, TabbedContent

from wattfleet.core.cli import main
from wattfleet.tui.fleet.audit import AuditOptions, Slo, parse_budget
from wattfleet.tui.fleet.audit.report_md import fmt
from wattfleet.tui.fleet.audit_console import APPLY_NOTE, NO_BUDGET, ConsoleAudit
from wattfleet.tui.sampleapp import SAMPLE_BUDGET, sample_app
from wattfleet.tui.screens.audit import AuditScreen
from wattfleet.tui.screens.fleet import FleetScreen


async def open_audit(pilot: Any, keys: tuple[str, ...] = ("a",)) -> AuditScreen:
    await pilot.pause(0.3)
    await pilot.press(*keys)
    screen = pilot.app.screen
    assert isinstance(screen, AuditScreen)
    for _ in range(100):
        if screen.outcome is not None:
            break
        await pilot.pause(0.1)
    assert screen.outcome is not None, "the audit did not finish"
    await pilot.pause(0.2)
    return screen


def cells(screen: AuditScreen, table_id: str) -> list[list[str]]:
    table = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(screen: AuditScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _cli_report(tmp_path: Path, records: list[Any]) -> dict[str, Any]:
    runs = tmp_path / "runs"
    runs.mkdir()
    for record in records:
        (runs / f"{record.run_id}.json").write_text(record.to_json())
    budget = tmp_path / "budget.toml"
    budget.write_text(f'fleet_w = {SAMPLE_BUDGET["fleet_w"]}\ndomain = "gpu-board"\n[group.rack."1"]\nbudget_w = 600\n')
    out = tmp_path / "audit.json"
    assert main(["audit", "--records", str(runs), "--budget", str(budget), "--slo-ttft-ms", "200", "--solver", "dp",
                 "--format", "json", "--out", str(out)]) == 0
    return dict(json.loads(out.read_text()))


async def test_the_screen_shows_what_wattfleet_audit_reports(tmp_path: Path) -> None:
    app = sample_app()  # budget fleet 900 W, rack=1 600 W, gpu-board; SLO p99 TTFT <= 200 ms (sampleapp.py)
    assert SAMPLE_BUDGET["group"] == {"rack": {"1": {"budget_w": 600}}}
    expected = _cli_report(tmp_path, app.model.records())
    before = [r.run_id for r in app.model.records()]
    async with app.run_test(size=(160, 48)) as pilot:
        assert any(b.key == "a" and b.show and b.description == "Audit" for b in FleetScreen.BINDINGS)
        screen = await open_audit(pilot)
        assert APPLY_NOTE in text_of(screen, "#audit-title")
        assert "fleet over, 1,097 of 900 W [gpu-board]" in text_of(screen, "#audit-title")
        # where the watts go: per host and domain key, as the CLI's host_power
        shown = {(r[0], r[1]): r[3] for r in cells(screen, "watts-table")}
        assert shown == {(hp["host"], hp["key"]): fmt(hp["avg_w"]) for hp in expected["host_power"]}
        totals = {(r[0], r[1].split(" ")[0]): r[3] for r in cells(screen, "totals-table")}
        assert totals == {(t["scope"], t["key"]): fmt(t["avg_w"]) for t in expected["totals"]}
        assert "estimated (a model)" in [r[1] for r in cells(screen, "totals-table")]  # apart, never added
        # the budget's headroom
        lines = {r[0]: (r[5], r[8]) for r in cells(screen, "budget-table")}
        assert lines == {b["name"]: (fmt(b["headroom_w"]), b["status"]) for b in expected["budget"]["lines"]}
        # outliers with their evidence
        outliers = cells(screen, "outliers-table")
        assert [(r[0], r[1]) for r in outliers] == [(o["host"], o["profile"]) for o in expected["outliers"]]
        assert "power limit 250 W (peers: 400 W)" in outliers[0][6]
        assert "precision fp32" in text_of(screen, "#outliers-detail")
        # task success beside tokens/J
        eff = cells(screen, "efficiency-table")
        header = [str(c.label) for c in screen.query_one("#efficiency-table", DataTable).columns.values()]
        row = next(r for r in eff if r[:2] == ["dgx-a100-01", "decoder-offline"])
        assert row[header.index("success [95% CI]")] == "0.93 [0.88, 0.97]" and row[header.index("tokens/J")] == "7.9"
        assert any("ANSWERS WORSE" in r[header.index("flags")] for r in eff if r[0] == "edge-orin-3")
        # the allocation: total, slack and the next watt, the chosen setting per host
        await pilot.press("5")
        assert screen.query_one("#audit-panes", TabbedContent).active == "allocation"
        blocks = [str(s.render()) for s in screen.query(".audit-alloc").results(Static)]
        tables = list(screen.query(".audit-choices").results(DataTable))
        assert len(blocks) == len(tables) == len(expected["allocations"]) == 3
        for block, table, a in zip(blocks, tables, expected["allocations"], strict=True):
            assert f"total {fmt(a['tokens_per_s'])} tok/s at {fmt(a['power_w'])} W [gpu-board]" in block
            for name, _limit, slack in a["budgets"]:
                assert f"{name} {fmt(slack)} of" in block
            assert [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])) for i in range(table.row_count)] == [
                (c["host"], c["setting"]) for c in a["choices"]]
            assert "next watt:" in block
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, FleetScreen)
    assert [r.run_id for r in app.model.records()] == before  # it proposes; nothing was started or changed


async def test_no_budget_is_said_and_only_the_runs_on_screen_are_audited() -> None:
    app = sample_app()
    app.audit = ConsoleAudit()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("slash", *"site=edge", "enter")
        screen = await open_audit(pilot, ("a",))
        assert screen.outcome is not None and screen.outcome.hosts_on_screen == 2
        assert {r[0] for r in cells(screen, "watts-table")} == {"edge-orin-3", "edge-orin-4"}
        assert text_of(screen, "#budget-notes") == NO_BUDGET
        assert "Not computed: give --budget FILE" in text_of(screen, "#allocation-notes")
        assert "no budget" in text_of(screen, "#audit-title")
        await pilot.press("escape", "slash", *"nobody-has-this-name", "enter")
        screen = await open_audit(pilot)  # a filter that leaves no host audits nothing, and says so
        assert screen.outcome is not None and screen.outcome.report is None
        assert "nothing to audit: no completed run among the 0 on screen" in text_of(screen, "#audit-status")


async def test_a_budget_group_no_host_carries_is_one_line_and_the_rest_is_audited() -> None:
    label = "rakc"
    app = sample_app()
    budget = parse_budget({"fleet_w": 900, "group": {label: {"1": {"budget_w": 10}}}}, "budget.toml")
    app.audit = ConsoleAudit(AuditOptions(budget=budget, slo=Slo()))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_audit(pilot)
        status = text_of(screen, "#audit-status")
        assert f"group.{label}: no host carries the label '{label}'" in status
        assert "audited without the budget" in status
        assert len(cells(screen, "watts-table")) == 7  # every host with a power figure, one domain key each
        assert text_of(screen, "#budget-notes") == NO_BUDGET
