"""Prometheus /metrics over real HTTP: power, energy, run state and the last run's figures."""

from __future__ import annotations

from agents import scrape_metrics

from wattfleet.agent.service.exporter import Exporter, MetricsState


def test_metrics_endpoint_reports_power_state_and_last_run() -> None:
    state = MetricsState("edge-7", "0.1.0", {"site": "lab-2", "rack-id": "r1"})
    exporter = Exporter(state, 0, addr="127.0.0.1")
    port = exporter.start()
    try:
        state.set_power("rapl", "cpu-package", 31.5, 1234.0)
        state.set_power("estimated", "estimated", 12.0, None)
        state.set_run_state("measuring", "r-1", queued=2)
        got = scrape_metrics(port)
        assert got["wattfleet_agent_info"] == [
            ({"host_id": "edge-7", "version": "0.1.0", "site": "lab-2", "rack_id": "r1"}, 1.0)
        ]
        power = {(lab["source"], lab["domain"]): v for lab, v in got["wattfleet_power_watts"]}
        assert power == {("rapl", "cpu-package"): 31.5, ("estimated", "estimated"): 12.0}
        assert got["wattfleet_energy_joules_total"] == [
            ({"host_id": "edge-7", "source": "rapl", "domain": "cpu-package"}, 1234.0)
        ]
        states = {lab["state"]: v for lab, v in got["wattfleet_run_state"]}
        assert states["measuring"] == 1.0 and sum(states.values()) == 1.0
        assert got["wattfleet_runs_queued"][0][1] == 2.0

        state.run_ended("r-1", "smoke", "completed", 1.7e9, [
            {"name": "ttft_p99", "value": 12.5, "unit": "ms", "definition": "MLPerf LoadGen"},
            {"name": "tokens_per_j", "value": 3.25, "unit": "tok/J", "domain": "estimated"},
            {"name": "tokens_per_s", "value": 410.0, "unit": "tok/s"},
        ])
        state.set_run_state("idle")
        got = scrape_metrics(port)
        (labels, value), = got["wattfleet_last_run_latency_seconds"]
        assert labels["metric"] == "ttft" and labels["quantile"] == "0.99" and value == 0.0125
        assert labels["definition"] == "MLPerf LoadGen" and labels["profile"] == "smoke"
        assert got["wattfleet_last_run_tokens_per_joule"][0] == (
            {"host_id": "edge-7", "profile": "smoke", "run_id": "r-1", "domain": "estimated"}, 3.25
        )
        assert got["wattfleet_last_run_throughput"][0][1] == 410.0
        ended = {lab["state"]: v for lab, v in got["wattfleet_runs_ended_total"]}
        assert ended["completed"] == 1.0
        assert {lab["state"]: v for lab, v in got["wattfleet_run_state"]}["idle"] == 1.0
    finally:
        exporter.stop()
