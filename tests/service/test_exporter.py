"""Prometheus /metrics over real HTTP: power, energy, output counters, run state and the last run's figures."""

from __future__ import annotations

from agents import scrape_metrics

from wattfleet.agent.service.exporter import Exporter, MetricsState
from wattfleet.core.model import Figure


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
            ({"host_id": "edge-7", "source": "rapl", "domain": "cpu-package", "domain_kind": "cpu-package"}, 1234.0)
        ]
        assert got["wattfleet_output_tokens_total"] == [({"host_id": "edge-7"}, 0.0)]  # there from the start
        states = {lab["state"]: v for lab, v in got["wattfleet_run_state"]}
        assert states["measuring"] == 1.0 and sum(states.values()) == 1.0
        assert got["wattfleet_runs_queued"][0][1] == 2.0

        state.run_ended("r-1", "smoke", "completed", 1.7e9, [
            Figure("ttft_p99", 12.5, "ms", definition="MLPerf LoadGen"),
            Figure("tokens_per_j", 3.25, "tok/J", "gpu-board:1"),
            Figure("tokens_per_s", 410.0, "tok/s"),
        ])
        state.count_output(tokens=80, queries=10)
        state.count_output(tokens=8)
        state.runs_recovered_as_interrupted(2)
        state.set_run_state("idle")
        got = scrape_metrics(port)
        (labels, value), = got["wattfleet_last_run_latency_seconds"]
        assert labels["metric"] == "ttft" and labels["percentile"] == "99" and value == 0.0125
        assert "quantile" not in labels and "run_id" not in labels
        assert labels["definition"] == "MLPerf LoadGen" and labels["profile"] == "smoke"
        assert got["wattfleet_last_run_tokens_per_joule"][0] == (
            {"host_id": "edge-7", "profile": "smoke", "domain": "gpu-board:1", "domain_kind": "gpu-board"}, 3.25
        )
        assert got["wattfleet_last_run_info"] == [
            ({"host_id": "edge-7", "run_id": "r-1", "profile": "smoke", "state": "completed"}, 1.0)
        ]
        assert got["wattfleet_last_run_end_timestamp_seconds"] == [({"host_id": "edge-7"}, 1.7e9)]
        assert got["wattfleet_last_run_throughput"][0][1] == 410.0
        assert got["wattfleet_output_tokens_total"] == [({"host_id": "edge-7"}, 88.0)]
        assert got["wattfleet_queries_total"] == [({"host_id": "edge-7"}, 10.0)]
        ended = {lab["state"]: v for lab, v in got["wattfleet_runs_ended_total"]}
        assert ended == {"completed": 1.0, "failed": 0.0, "cancelled": 0.0, "interrupted": 2.0}
        assert {lab["state"]: v for lab, v in got["wattfleet_run_state"]}["idle"] == 1.0

        state.run_ended("r-2", "smoke", "failed", 1.8e9, [])  # the next run replaces, never adds, series
        got = scrape_metrics(port)
        assert got["wattfleet_last_run_info"][0][0]["run_id"] == "r-2"
        assert "wattfleet_last_run_latency_seconds" not in got
    finally:
        exporter.stop()
