"""`wattfleet tui --prometheus URL` against a real Prometheus scraping real agents (the session's `fleet`): the
fleet screen and heatmap filled from PromQL (live power per domain kind, tokens/J over the span, hosts
reporting, the status line in the strip), the agents of the inventory kept for starting runs, the audit
screen reading the Prometheus range; then Prometheus gone: said in the strip, the last hosts kept stale,
the console still working. Nothing here starts a run (the session's token counts stay as recorded)."""

from __future__ import annotations

import argparse
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from promfleet import CPU_W, GPU_W, Fleet
from test_prom_e2e import _raw_ratio
from textual.widgets import DataTable, Static

from wattfleet.tui.app import WattfleetApp
from wattfleet.tui.cli import _parser, build_sources, console_audit
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.prom_source import TARGET_DOWN, PrometheusSource, host_key
from wattfleet.tui.screens.audit import AuditScreen
from wattfleet.tui.screens.fleet import FleetScreen
from wattfleet.tui.widgets.heatmap import Heatmap


class Proxy:
    """Prometheus behind a switch: forwards every GET until `stop()`, then the port refuses connections."""

    def __init__(self, upstream: str) -> None:
        class Forward(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=10) as reply:
                        status, body = reply.status, reply.read()
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None: ...

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture()
def proxy(fleet: Fleet) -> Iterator[Proxy]:
    p = Proxy(fleet.prom.url)
    try:
        yield p
    finally:
        if p.thread.is_alive():
            p.stop()


def _span(fleet: Fleet) -> str:
    return f"{math.ceil(time.time() - fleet.started_unix_s + 5)}s"


def _app(fleet: Fleet, url: str) -> tuple[WattfleetApp, argparse.Namespace]:
    args = _parser().parse_args([
        "--prometheus", url, "--prometheus-range", _span(fleet), "--prometheus-interval-s", "0.5",
        "--audit-range", _span(fleet), "--no-mdns", "--inventory", str(fleet.workdir / "inventory.toml"),
        "--credentials", str(fleet.workdir / "credentials.toml")])
    model = FleetModel(stale_after_s=30.0)
    sources, live = build_sources(args, model)
    return WattfleetApp(model, sources, live=live, tick_s=0.2, audit=console_audit(args)), args  # type: ignore[arg-type]


async def _until(pilot: Any, cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    for _ in range(int(timeout_s / 0.2)):
        if cond():
            return
        await pilot.pause(0.2)
    raise AssertionError(f"not within {timeout_s:g} s: {what}")


def _source(app: WattfleetApp) -> PrometheusSource:
    return next(s for s in app.sources if isinstance(s, PrometheusSource))


async def test_the_fleet_screen_from_prometheus_and_the_audit_of_its_range(fleet: Fleet, proxy: Proxy) -> None:
    app, _args = _app(fleet, proxy.url)
    gpu, cpu, dead = (host_key(h) for h in (fleet.gpu.host_id, fleet.cpu.host_id, fleet.dead_host))
    async with app.run_test(size=(160, 48)) as pilot:
        model = app.model
        await _until(pilot, lambda: gpu in model.hosts and model.hosts[gpu].status == "live"
                     and model.hosts[cpu].status == "live", 30, "both agents live from Prometheus")
        assert model.hosts[gpu].power_by_kind() == {"gpu-board": GPU_W, "cpu-package": CPU_W}
        assert set(model.hosts[cpu].power_by_kind()) == {"estimated"}
        assert (model.hosts[dead].status, model.hosts[dead].reason) == ("error", TARGET_DOWN)
        await pilot.pause(0.5)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        strip = str(screen.query_one("#source-status", Static).render())
        assert f"Prometheus {proxy.url}: 2 of 3 hosts reporting; not reporting: {fleet.dead_host}" in strip
        # the heatmap's span column: tokens/J from the counters, in each host's headline domain kind
        grid = screen.query_one(Heatmap).grid
        (col,) = [i for i, c in enumerate(grid.cols) if c.startswith("last ")]
        cell = grid.cell(grid.row_keys.index(gpu), col)
        snap = _source(app).last
        assert snap is not None
        expected = _raw_ratio(fleet, fleet.gpu.host_id, "gpu-board", snap.range_s, snap.at_unix_s)
        assert cell.domain == "gpu-board" and cell.state == "measured"
        assert cell.value == pytest.approx(expected, rel=0.1)
        assert grid.cell(grid.row_keys.index(cpu), col).state == "estimated"
        row = next(r for r in screen.rows if r.key == gpu)
        assert row.tj_domain.startswith("gpu-board, last ") and row.power_kind == "gpu-board"
        # runs still start on the agents directly: the inventory's agent is kept under the same row
        await _until(pilot, lambda: cpu in app.live.connections, 20, "the inventory agent kept for runs")  # type: ignore[union-attr]
        assert "smoke" in {p.name for p in model.hosts[cpu].profiles}
        assert set(model.hosts) == {gpu, cpu, dead}  # one row per host: the inventory's dead agent is not doubled
        # the audit screen: the runs on screen (none here) and the Prometheus range
        await pilot.press("a")
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        await _until(pilot, lambda: audit.outcome is not None, 60, "the audit")
        assert audit.outcome is not None and audit.outcome.prometheus_hosts == 2 and not audit.outcome.problems
        table = audit.query_one("#watts-table", DataTable)
        rows = {(str(r[0]), str(r[1])): float(str(r[3]).replace(",", ""))
                for r in (table.get_row_at(i) for i in range(table.row_count))}
        assert rows[(fleet.gpu.host_id, "gpu-board")] == pytest.approx(GPU_W, rel=0.1)
        assert rows[(fleet.gpu.host_id, "cpu-package")] == pytest.approx(CPU_W, rel=0.1)
        assert (fleet.cpu.host_id, "estimated") in rows
        assert "estimate" in str(audit.query_one("#watts-notes", Static).render())  # counted apart, said so
        await pilot.press("escape")

        # Prometheus goes away: the strip says so, the hosts stay, stale, and the console keeps working
        proxy.stop()
        await _until(pilot, lambda: model.hosts[gpu].status == "stale", 30, "hosts stale after Prometheus went")
        line = model.source_status[_source(app).name]
        assert line.level == "error" and "showing the hosts as of" in line.message
        assert not model.hosts[gpu].power_w and model.hosts[gpu].window is not None  # last tokens/J kept, stale
        await pilot.pause(0.5)
        assert "showing the hosts as of" in str(app.screen.query_one("#source-status", Static).render())
        grid = app.screen.query_one(Heatmap).grid
        assert grid.cell(grid.row_keys.index(gpu), col).state == "stale"
        await pilot.press("a")
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        await _until(pilot, lambda: audit.outcome is not None, 30, "the audit without Prometheus")
        assert audit.outcome is not None and any("Prometheus range left out" in p for p in audit.outcome.problems)
