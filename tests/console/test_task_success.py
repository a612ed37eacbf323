"""Task success in the console, on records made by `wattfleet bench` on the built-in known decoder with items
(issue 13): the correct copy answers every item, the perturbed copy fails some. The hosts table and host
detail show the success rate and J per correct answer, the heatmap colours by J/correct and correct
answers/s, the Pareto view puts success on an axis, and the audit shows success beside tokens/J."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from known_folder import answer_items

from wattfleet.core.model import RunRecord
from wattfleet.tui.app import WattfleetApp
from wattfleet.tui.cli import _parser, build_sources
from wattfleet.tui.fleet.heatmap import compact
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.screens.audit import AuditScreen
from wattfleet.tui.screens.fleet import FleetScreen
from wattfleet.tui.screens.host import HostScreen
from wattfleet.tui.screens.pareto import ParetoScreen
from wattfleet.tui.widgets.heatmap import Heatmap

pytest.importorskip("onnxruntime", reason="`wattfleet bench` needs the agent extra (ONNX Runtime)")
pytest.importorskip("tokenizers", reason="the agent extra installs `tokenizers`")

WATTFLEET = str(Path(sys.executable).parent / "wattfleet")
PROFILE = """\
name = "{name}"
[model]
builtin = "{model}"
[runtime]
intra_op_threads = 1
[load]
min_queries = 24
min_duration_s = 1.0
warmup_queries = 0
target_latency_percentile = 0
[workload]
items = "items.jsonl"
order = "file"
[task]
scorer = "exact"
on = "ids"
"""


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, RunRecord]]:
    """Two bench records of one host: `known` (decoder-known, every answer right) and then `perturbed`."""
    work = tmp_path_factory.mktemp("known-bench")
    answer_items(work / "items.jsonl", 24, 8)
    out = work / "records"
    out.mkdir()
    made: dict[str, RunRecord] = {}
    for name, model in (("known", "decoder-known"), ("perturbed", "decoder-known-perturbed")):
        (work / f"{name}.toml").write_text(PROFILE.format(name=name, model=model))
        proc = subprocess.run([WATTFLEET, "bench", str(work / f"{name}.toml"), "--cache-dir", str(work / "cache"),
                               "--power-source", "estimated:tdp_w=65", "--out", str(out / f"{name}.json")],
                              capture_output=True, text=True, timeout=180, cwd=work)
        assert proc.returncode == 0, proc.stderr
        made[name] = RunRecord.from_json((out / f"{name}.json").read_bytes())
    return out, made


async def _until(pilot: Any, cond: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if cond():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"not within 10 s: {what}")


async def test_success_and_joules_per_correct_answer_on_every_screen(
        records: tuple[Path, dict[str, RunRecord]]) -> None:
    folder, made = records
    known, bad = made["known"], made["perturbed"]
    assert known.task is not None and bad.task is not None
    assert known.task.success_rate == 1.0 and bad.task.success_rate is not None and bad.task.success_rate < 1.0
    jpc = {name: r.headline("j_per_correct") for name, r in made.items()}
    assert all(f is not None and f.value for f in jpc.values()), "the bench records carry J per correct answer"

    args = _parser().parse_args(["--records", str(folder)])
    model = FleetModel()
    sources, _live = build_sources(args, model)
    app = WattfleetApp(model, sources, live=None, tick_s=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: sum(len(h.results) for h in model.hosts.values()) == 2, "records loaded")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        (row,) = screen.rows
        assert row.success_rate == bad.task.success_rate  # the host's latest run: the perturbed copy
        table = screen.query_one("#hosts")
        header = [str(c.label) for c in table.columns.values()]
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[header.index("success")].startswith(f"{bad.task.success_rate:.0%} (")
        assert cells[header.index("J/correct")] == f"{compact(jpc['perturbed'].value)} J"  # type: ignore[union-attr]

        for metric in ("j_per_correct", "correct_per_s"):
            screen.set_metric(metric)
            await pilot.pause(0.2)
            grid = screen.query_one(Heatmap).grid
            for name, record in made.items():
                cell = grid.cell(0, grid.cols.index(name))
                figure = record.headline(metric) or record.figure(metric)
                assert figure is not None and cell.value == figure.value and cell.value is not None
        screen.set_metric("tokens_per_j")

        await pilot.press("enter")
        await pilot.pause(0.3)
        host = app.screen
        assert isinstance(host, HostScreen)
        task = str(host.query_one("#task").render())
        assert f"{bad.task.correct} of {bad.task.items} answers correct (exact)" in task
        assert f"{compact(jpc['perturbed'].value)} J per correct answer [estimated]" in task  # type: ignore[union-attr]
        await pilot.press("escape")

        await pilot.press("p")
        await pilot.pause(0.3)
        pareto = app.screen
        assert isinstance(pareto, ParetoScreen)
        for _ in range(4):  # tokens/J -> J/token -> J per correct -> task success (offered: the records have it)
            if pareto.y != "success_rate":
                await pilot.press("y")
        await pilot.pause(0.2)
        assert pareto.y == "success_rate"
        assert sorted(p.y for p in pareto.pts) == sorted(r.task.success_rate for r in made.values())  # type: ignore[union-attr,type-var]
        await pilot.press("escape")

        await pilot.press("a")
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        await _until(pilot, lambda: audit.outcome is not None, "the audit")
        eff = audit.query_one("#efficiency-table")
        header = [str(c.label) for c in eff.columns.values()]
        rows = {str(r[1]): [str(c) for c in r] for r in (eff.get_row_at(i) for i in range(eff.row_count))}
        assert rows["known"][header.index("success [95% CI]")].startswith("1.00 [")
        assert rows["perturbed"][header.index("success [95% CI]")].startswith(f"{bad.task.success_rate:.2f} [")
        assert rows["known"][header.index("J/correct")] != "-"
