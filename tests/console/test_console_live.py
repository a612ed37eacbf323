"""The console against real agents on loopback (App.run_test): zeroconf fills the table, a fleet run from
the launcher fills the heatmap, host detail charts move, an agent killed and restarted goes stale and comes
back, and bad input (an unreachable host, a wrong token, another API version) is shown with its reason
while the console keeps working."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import RunningAgent, free_port, start_agent
from traces import Track, constant, write_power_trace

from wattfleet.tui.app import WattfleetApp
from wattfleet.tui.demo import OnlyThese
from wattfleet.tui.fleet.backoff import Backoff
from wattfleet.tui.fleet.directory import AgentDirectory
from wattfleet.tui.fleet.discovery import ZeroconfBrowser
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.live.source import LiveSource
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.screens.fleet import FleetScreen
from wattfleet.tui.screens.host import HostScreen
from wattfleet.tui.screens.launcher import LauncherScreen
from wattfleet.tui.widgets.heatmap import Heatmap

LOOPBACK = "127.0.0.1"
SHORT = "load.min_duration_s=0.5, load.min_queries=4, load.max_duration_s=3"


def _trace(path: Path) -> Path:
    return write_power_trace(path, [Track("nvml", "gpu-board:0", lambda i: 200 + i % 7, lambda i: 2.0 * i),
                                    Track("rapl", "cpu-package", constant(40))])



@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningAgent]]:
    work = tmp_path_factory.mktemp("console-fleet")
    tag = uuid.uuid4().hex[:6]
    agents: dict[str, RunningAgent] = {}
    try:
        agents["gpu"] = start_agent(work, host_id=f"con-gpu-{tag}", advertise=True, interfaces=(LOOPBACK,),
                                    extra=("--power-source", f"replay-loop:{_trace(work / 't.csv')}",
                                           "--label", "site=lab"))
        agents["cpu"] = start_agent(work, host_id=f"con-cpu-{tag}", advertise=True, interfaces=(LOOPBACK,),
                                    extra=("--power-source", "estimated:tdp_w=50", "--label", "site=edge"))
        agents["inv"] = start_agent(work, host_id=f"con-inv-{tag}", extra=("--power-source", "estimated:tdp_w=30"))
        yield agents
    finally:
        for a in agents.values():
            a.stop()


def _inventory(fleet: dict[str, RunningAgent]) -> list[AgentEndpoint]:
    inv = fleet["inv"]
    return [
        AgentEndpoint("", (LOOPBACK,), inv.port, source="inventory", name="restartable"),
        AgentEndpoint("", (LOOPBACK,), free_port(), source="inventory", name="nobody-home"),
        AgentEndpoint("", ("localhost",), fleet["gpu"].port, source="inventory", name="wrong-token"),
        AgentEndpoint("", (LOOPBACK,), 9, source="inventory", name="from-the-future", api="wattfleet.v9"),
    ]


def _app(fleet: dict[str, RunningAgent], tmp_path: Path) -> WattfleetApp:
    tokens = {a.target: a.token for a in fleet.values()}

    def auth(e: AgentEndpoint) -> tuple[str | None, Path | None]:
        return ("not-the-token" if e.name == "wrong-token" else tokens.get(e.target), None)

    ids = {fleet["gpu"].host_id, fleet["cpu"].host_id}
    directory = AgentDirectory(OnlyThese(ZeroconfBrowser([LOOPBACK]), ids), _inventory(fleet))
    live = LiveSource(directory, auth, backoff=lambda: Backoff(initial_s=0.2, max_s=1.0),
                      telemetry_interval_s=0.2)
    return WattfleetApp(FleetModel(stale_after_s=3.0), [live], live=live, out_dir=tmp_path, tick_s=0.2)


async def _until(pilot: Any, cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    for _ in range(int(timeout_s / 0.2)):
        if cond():
            return
        await pilot.pause(0.2)
    raise AssertionError(f"not within {timeout_s:g} s: {what}")


def _status(app: WattfleetApp, label: str) -> tuple[str, str]:
    host = next((h for h in app.model.hosts.values() if h.label == label), None)
    return ("absent", "") if host is None else (host.status, host.reason)


async def test_discovery_fleet_run_heatmap_host_detail_and_bad_hosts(fleet: dict[str, RunningAgent],
                                                                     tmp_path: Path) -> None:
    app = _app(fleet, tmp_path)
    gpu, cpu = fleet["gpu"].host_id, fleet["cpu"].host_id
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: _status(app, gpu)[0] == _status(app, cpu)[0] == "live", 30, "both live")
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        await pilot.pause(0.4)
        assert {gpu, cpu} <= {r.host for r in screen.rows}  # discovery filled the table
        await _until(pilot, lambda: _status(app, "nobody-home")[0] == "error", 15, "unreachable marked")
        assert "unreachable" in _status(app, "nobody-home")[1]
        await _until(pilot, lambda: "refused" in _status(app, "wrong-token")[1], 15, "wrong token marked")
        assert _status(app, "from-the-future")[0] == "unsupported" and "wattfleet.v9" in _status(
            app, "from-the-future")[1]

        await pilot.press("l")
        launcher = app.screen
        assert isinstance(launcher, LauncherScreen)
        await pilot.pause(0.3)
        names = [name for name, _spec, _path in launcher._profiles]
        launcher.query_one("#launch-profiles").highlighted = names.index("smoke")
        launcher.query_one("#overrides").value = SHORT
        launcher.query_one("#launch-hosts").deselect_all()
        keys = {h.key for h in app.model.hosts.values() if h.label in (gpu, cpu)}
        for key in keys:
            launcher.query_one("#launch-hosts").select(key)
        await pilot.press("ctrl+r")
        await _until(pilot, lambda: app.fleet_run is not None and app.fleet_run.done, 90, "fleet run done")
        assert {h.state for h in app.fleet_run.hosts.values()} == {"completed"}, [
            (h.label, h.state, h.error) for h in app.fleet_run.hosts.values()]
        assert all(Path(h.record_path).is_file() for h in app.fleet_run.hosts.values())  # each keeps its record
        await pilot.press("escape")
        await pilot.pause(0.5)
        grid = app.screen.query_one(Heatmap).grid
        assert "smoke" in grid.cols
        col = grid.cols.index("smoke")
        cells = {grid.row_labels[r]: grid.cell(r, col) for r in range(len(grid.row_keys))}
        # a CPU run's headline domain is cpu-package (METRICS.md), measured here, never the estimate
        assert cells[gpu].value is not None and cells[gpu].domain == "cpu-package"
        assert cells[gpu].state in ("measured", "low-confidence", "invalid")
        assert cells[cpu].state in ("estimated", "invalid") and cells[cpu].domain == "estimated"

        app.open_host(next(iter(k for k in keys if app.model.hosts[k].label == gpu)))
        await pilot.pause(0.3)
        assert isinstance(app.screen, HostScreen)
        host = app.model.hosts[app.screen.key]
        before = len(host.history["gpu-board:0"])
        await _until(pilot, lambda: len(host.history["gpu-board:0"]) > before + 2, 10, "power chart moving")
        assert "gpu-board:0" in str(app.screen.query_one("#power-chart").render())
        await _until(pilot, lambda: "no data yet" not in str(app.screen.query_one("#ttft-chart").render()), 15,
                     "TTFT distribution drawn from the run's record")


async def test_an_agent_killed_goes_stale_and_comes_back(fleet: dict[str, RunningAgent], tmp_path: Path) -> None:
    app = _app(fleet, tmp_path)
    inv = fleet["inv"]
    async with app.run_test(size=(120, 36)) as pilot:
        await _until(pilot, lambda: _status(app, inv.host_id)[0] == "live", 30, "inventory agent live")
        inv.kill()
        await _until(pilot, lambda: _status(app, inv.host_id)[0] == "stale", 20, "stale after kill")
        host = next(h for h in app.model.hosts.values() if h.label == inv.host_id)
        assert not host.power_w and not host.reporting  # never shown as live
        fleet["inv"] = start_agent(inv.data_dir.parent, host_id=inv.host_id, data_dir=inv.data_dir, port=inv.port,
                                   extra=("--power-source", "estimated:tdp_w=30"))
        await _until(pilot, lambda: _status(app, inv.host_id)[0] == "live", 30, "live again after restart")
