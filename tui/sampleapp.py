"""The console on the fixed sample fleet (tui/fleet/sample.py): the app behind the snapshot tests and
scripts/screens.py. A finished fleet run is shown in the launcher; no agent, clock or port is involved."""

from __future__ import annotations

from collections.abc import Mapping

from wattfleet.core.model import RunRecord, RunSpec
from wattfleet.tui.app import WattfleetApp
from wattfleet.tui.fleet.live.runs import FleetRun
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.sample import sample_model


class SampleAgents:
    """Stands where the live source would: no connections, records served from the model."""

    def __init__(self, model: FleetModel) -> None:
        self.model = model
        self.connections: Mapping[str, object] = {}

    async def fetch_record(self, key: str, run_id: str) -> RunRecord | None:
        host = self.model.hosts.get(key)
        return None if host is None else next((r for r in host.runs if r.run_id == run_id), None)


def sample_fleet_run(model: FleetModel) -> FleetRun:
    keys = ["mdns:dgx-a100-01", "mdns:dgx-a100-02", "mdns:l40s-07", "mdns:edge-orin-3"]
    run = FleetRun(model, {}, {k: RunSpec(profile="smoke") for k in keys})
    states = (("completed", 1.0), ("completed", 1.0), ("measuring", 0.4), ("failed", 0.7))
    for (key, host), (state, fraction) in zip(run.hosts.items(), states, strict=True):
        host.state, host.fraction = state, fraction
        record = model.hosts[key].results.get("smoke")
        host.run_id = record.run_id if record is not None and state == "completed" else f"{host.label}-run04"
        if state == "completed":
            host.record = record
            host.record_path = f"records/{host.run_id}.json"
        if state == "failed":
            host.error = "RESOURCE_EXHAUSTED: the device is busy with another run"
    return run


def sample_app() -> WattfleetApp:
    model = sample_model()
    app = WattfleetApp(model, live=SampleAgents(model), tick_s=0.25, subtitle="sample fleet (synthetic)")
    app.fleet_run = sample_fleet_run(model)
    return app
