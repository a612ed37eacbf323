"""End to end with a real Prometheus: agents found through `wattfleet sd` (file_sd and http_sd), scraped, and
read back by the console's Prometheus source and the audit's range query."""

from __future__ import annotations

import json
import math
import time

import pytest
from agents import scrape_metrics
from promfleet import CPU_W, GPU_W, TDP_W, Fleet, http_get, read_targets

from wattfleet.tui.fleet.prom_fleet import PrometheusFleetSource
from wattfleet.tui.fleet.prom_range import nearest_rank_p95, query_range_power, to_audit_runs
from wattfleet.tui.fleet.sd import SERIES_LABELS


def _by_host(groups: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {g["labels"]["host_id"]: g for g in groups}  # type: ignore[index]


def test_sd_lists_every_agent_with_its_labels_in_the_file_and_over_http(fleet: Fleet) -> None:
    groups = _by_host(read_targets(fleet.file_sd))
    assert set(groups) == {fleet.gpu.host_id, fleet.cpu.host_id, fleet.dead_host}
    gpu, cpu, dead = groups[fleet.gpu.host_id], groups[fleet.cpu.host_id], groups[fleet.dead_host]
    # the zeroconf agent's /metrics port came from its TXT record ("mp"); nobody passed --metrics-port
    assert gpu["targets"] == [f"127.0.0.1:{fleet.gpu.metrics_port}"]
    assert cpu["targets"] == [f"127.0.0.1:{fleet.cpu.metrics_port}"]
    gl, cl, dl = gpu["labels"], cpu["labels"], dead["labels"]
    assert isinstance(gl, dict) and isinstance(cl, dict) and isinstance(dl, dict)
    assert gl["__meta_wattfleet_found_by"] == "mdns" and cl["__meta_wattfleet_found_by"] == "inventory"
    assert (gl["site"], gl["rack"], gl["owner_team"]) == ("lab-a", "r1", "inference")  # GetInfo, via credentials
    assert (cl["site"], cl["rack"], cl["room"]) == ("lab-b", "r2", "b12")  # the agent's own labels win; the
    # inventory's fill in what the agent does not say
    assert gl["device_model"] and cl["device_model"]  # the CPU's name by GetInfo (no GPU on these agents)
    assert dl == {"host_id": fleet.dead_host, "site": "lab-c", "__meta_wattfleet_found_by": "inventory",
                  "__meta_wattfleet_grpc_target": dl["__meta_wattfleet_grpc_target"]}
    status, content_type, body = http_get(fleet.http_sd_url)
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == read_targets(fleet.file_sd)


def test_prometheus_scrapes_both_discovery_paths_with_sd_labels_attached(fleet: Fleet) -> None:
    client = fleet.client
    for job in ("wattfleet", "wattfleet-http"):
        up = {s.labels["host_id"]: s.value for s in client.query(f'up{{job="{job}"}}')}
        assert up == {fleet.gpu.host_id: 1.0, fleet.cpu.host_id: 1.0, fleet.dead_host: 0.0}, job
    power = client.query(f'wattfleet_power_watts{{job="wattfleet",host_id="{fleet.gpu.host_id}"}}')
    assert {s.labels["domain"] for s in power} == {"gpu-board:0", "cpu-package"}
    for s in power:  # honor_labels: the agent's host_id kept, sd's labels added, nothing renamed
        assert s.labels["site"] == "lab-a" and s.labels["device_model"]
        assert not any(k.startswith("exported_") for k in s.labels)


def test_sd_never_puts_a_label_the_agent_series_carry(fleet: Fleet) -> None:
    """SERIES_LABELS (the names sd keeps off targets) covers every label a real agent's /metrics uses,
    apart from the agent's own labels on wattfleet_agent_info."""
    own = {"site", "rack", "owner_team"}
    names = {k for rows in scrape_metrics(fleet.gpu.metrics_port).values() for labels, _ in rows for k in labels}
    assert names - own <= SERIES_LABELS, names - own - SERIES_LABELS


def test_console_source_reports_power_tokens_per_joule_and_who_is_down(fleet: Fleet) -> None:
    source = PrometheusFleetSource(fleet.prom.url, selector='job="wattfleet"',
                                   range_s=time.time() - fleet.started_unix_s + 5)
    try:
        snap = source.refresh()
    finally:
        source.close()
    assert snap.queries == 5 and not snap.stale
    assert (snap.reporting, snap.known) == (2, 3)
    assert snap.status.level == "warn" and f"not reporting: {fleet.dead_host}" in snap.status.message
    hosts = {h.host_id: h for h in snap.hosts}
    gpu, cpu = hosts[fleet.gpu.host_id], hosts[fleet.cpu.host_id]
    assert gpu.power_w == {"gpu-board": GPU_W, "cpu-package": CPU_W}
    assert set(cpu.power_w) == {"estimated"} and 0.0 <= cpu.power_w["estimated"] <= TDP_W
    assert gpu.labels["site"] == "lab-a" and cpu.labels["rack"] == "r2"
    assert gpu.run_state == cpu.run_state == "idle"
    assert gpu.headline_kind == "gpu-board" and cpu.headline_kind == "estimated"
    # tokens/J against Prometheus's own raw samples over the same range (increase() extrapolates a little)
    for host, kind in ((gpu, "gpu-board"), (gpu, "cpu-package"), (cpu, "estimated")):
        expected = _raw_ratio(fleet, host.host_id, kind, snap.range_s, snap.at_unix_s)
        assert expected > 0
        assert host.tokens_per_j[kind] == pytest.approx(expected, rel=0.1), (host.host_id, kind)
    assert not hosts[fleet.dead_host].reporting and not hosts[fleet.dead_host].power_w


def _raw_ratio(fleet: Fleet, host: str, kind: str, range_s: float, at_s: float) -> float:
    """Tokens over joules from the raw samples Prometheus holds (last minus first, no extrapolation)."""
    rng = f"[{round(range_s)}s]"
    sel = f'job="wattfleet",host_id="{host}"'
    (tokens,) = fleet.client.query_series(f"wattfleet_output_tokens_total{{{sel}}}{rng}", at_s)
    energy = fleet.client.query_series(f'wattfleet_energy_joules_total{{{sel},domain_kind="{kind}"}}{rng}', at_s)
    joules = sum(s.values[-1] - s.values[0] for s in energy)
    return (tokens.values[-1] - tokens.values[0]) / joules


def test_prometheus_holds_exactly_the_tokens_of_the_run_records(fleet: Fleet) -> None:
    at = time.time()
    for agent in (fleet.gpu, fleet.cpu):
        rng = f"[{round(at - fleet.started_unix_s + 5)}s]"
        (series,) = fleet.client.query_series(
            f'wattfleet_output_tokens_total{{job="wattfleet-http",host_id="{agent.host_id}"}}{rng}', at)
        assert series.values[-1] - series.values[0] == fleet.tokens[agent.host_id] > 0


def test_audit_range_query_returns_power_and_tokens_per_joule_per_domain(fleet: Fleet) -> None:
    end = time.time()
    report = query_range_power(fleet.client, fleet.started_unix_s, end, base_selector='job="wattfleet"')
    hosts = {h.host_id: h for h in report.hosts}
    assert set(hosts) == {fleet.gpu.host_id, fleet.cpu.host_id}  # the dead host has no series to report
    gpu = {d.domain: d for d in hosts[fleet.gpu.host_id].domains}
    assert set(gpu) == {"gpu-board:0", "cpu-package"}
    for domain, watts in (("gpu-board:0", GPU_W), ("cpu-package", CPU_W)):
        d = gpu[domain]
        assert d.peak_w == watts and d.p95_w == watts and set(d.samples_w) == {watts}
        assert d.avg_w == pytest.approx(watts, rel=0.1)  # increase(energy) / covered time
        assert d.energy_j is not None and d.tokens_per_j == pytest.approx(
            fleet.tokens[fleet.gpu.host_id] / d.energy_j, rel=0.1)
    (est,) = hosts[fleet.cpu.host_id].domains
    assert est.domain == "estimated" and est.peak_w is not None and 0.0 <= est.peak_w <= TDP_W
    assert est.p95_w == nearest_rank_p95(est.samples_w) and est.p95_w is not None and est.p95_w <= est.peak_w
    assert est.tokens_per_j is not None and est.tokens_per_j > 0
    for agent in (fleet.gpu, fleet.cpu):
        tokens = hosts[agent.host_id].tokens
        assert tokens == pytest.approx(fleet.tokens[agent.host_id], rel=0.1)
    assert hosts[fleet.gpu.host_id].labels["device_model"]


def test_range_report_becomes_the_audits_input(fleet: Fleet) -> None:
    audit = pytest.importorskip("wattfleet.tui.fleet.audit", reason="the audit package (issue 11) is not merged yet")
    from wattfleet.tui.fleet.audit.model import RunSet
    from wattfleet.tui.fleet.audit.power import host_power
    from wattfleet.tui.fleet.audit.stats import nearest_rank

    report = query_range_power(fleet.client, fleet.started_unix_s, time.time(), base_selector='job="wattfleet"')
    runs = to_audit_runs(report)
    by_host = {r.host: r for r in runs}
    gpu = by_host[fleet.gpu.host_id]
    assert gpu.headline_domain == "gpu-board:0" and gpu.labels["site"] == "lab-a" and not gpu.valid
    assert gpu.env.device_model == report.hosts[0].labels.get("device_model", gpu.env.device_model)
    power = host_power(runs)
    assert power[fleet.gpu.host_id]["gpu-board"].avg_w == pytest.approx(GPU_W, rel=0.1)
    assert power[fleet.gpu.host_id]["gpu-board"].p95_over == "samples"
    est = by_host[fleet.cpu.host_id].domains["estimated"]
    assert nearest_rank(est.samples_w, 95.0) == nearest_rank_p95(est.samples_w)  # the audit's own rule
    result = audit.run_audit(RunSet(tuple(runs)), audit.AuditOptions(allocate=False))
    assert result.power[fleet.gpu.host_id]["cpu-package"].avg_w == pytest.approx(CPU_W, rel=0.1)
    (eff,) = [e for e in result.efficiency if e.host == fleet.gpu.host_id]
    assert eff.domain == "gpu-board:0" and eff.tokens_per_j == pytest.approx(
        gpu.domains["gpu-board:0"].tokens_per_j)
    assert all(math.isfinite(d.power_avg_w or 0.0) for r in runs for d in r.domains.values())
    from wattfleet.tui.fleet.audit.report_md import report_markdown

    assert fleet.gpu.host_id in report_markdown(result)
