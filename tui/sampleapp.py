"""The console on the fixed sample fleet (tui/fleet/sample.py): the app behind the snapshot tests and
scripts/screens.py. A finished fleet run is shown in the launcher; no agent, clock or port is involved."""

from __future__ import annotations

from collections.abc import Mapping

from wattfleet.core.model import RunRecord, RunSpec
from wattfleet.tui.app import WattfleetApp
from wattfleet.tui.fleet.audit import AuditOptions, Slo, parse_budget
from wattfleet.tui.fleet.audit_console import ConsoleAudit
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


# The sample's budget: the lab's GPU boards (four GPUs at 240-310 W) within 900 W, rack 1 (three A100s) within 600 W.
SAMPLE_BUDGET = {"fleet_w": 900, "domain": "gpu-board", "group": {"rack": {"1": {"budget_w": 600}}}}


def sample_audit() -> ConsoleAudit:
    """What `wattfleet tui --budget budget.toml --slo-ttft-ms 200` would give, on the sample fleet."""
    budget = parse_budget(SAMPLE_BUDGET, "budget.toml")
    return ConsoleAudit(AuditOptions(budget=budget, slo=Slo(ttft_p99_ms=200.0), solver="dp"))


def sample_app() -> WattfleetApp:
    model = sample_model()
    app = WattfleetApp(model, live=SampleAgents(model), tick_s=0.25, subtitle="sample fleet (synthetic)",
                       audit=sample_audit())
    app.fleet_run = sample_fleet_run(model)
    return app


def prometheus_app() -> WattfleetApp:
    """The fleet screen as `wattfleet tui --prometheus URL` draws it, from a canned Prometheus (sample_prom.py)."""
    from wattfleet.tui.fleet.sample_prom import URL, sample_prometheus_model

    model, _source = sample_prometheus_model()
    return WattfleetApp(model, live=SampleAgents(model), tick_s=0.25, subtitle=f"Prometheus {URL} (synthetic)",
                        audit=ConsoleAudit(prometheus_url=URL))
