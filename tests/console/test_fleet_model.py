"""The pure fleet model: filter language, sort and group, stale marks, the strip, heatmap cells and the
Pareto frontier, on the fixed sample fleet and on hand-made records."""

from __future__ import annotations

import pytest

from wattfleet.core.model import DomainEnergy, Figure, RunRecord, Validity
from wattfleet.tui.fleet.backoff import Backoff
from wattfleet.tui.fleet.filterexpr import FilterError, parse_filter
from wattfleet.tui.fleet.heatmap import METRICS, build_grid, cell_text, compact, level_of
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.pareto import ParetoPoint, frontier, kinds, of_kind, points
from wattfleet.tui.fleet.sample import sample_model
from wattfleet.tui.fleet.summary import fleet_strip, group_rows, host_row, sort_rows


def _rows(model: FleetModel, text: str) -> list[str]:
    f = parse_filter(text)
    return sorted(r.host for r in (host_row(h) for h in model.hosts.values()) if f.matches(r.fields(), r.text()))


def test_filter_language_words_comparisons_regex_labels_and_negation() -> None:
    m = sample_model()
    assert _rows(m, "power>280") == ["dgx-a100-01", "dgx-a100-02"]  # gpu-board watts; stale hosts have none
    assert _rows(m, "host~=^edge") == ["edge-orin-3", "edge-orin-4"]
    assert _rows(m, "tokens_per_j<1") == ["cpu-xeon-12"]
    assert _rows(m, "rack=1 & tokens_per_j>3") == ["dgx-a100-01"]
    assert _rows(m, "orin & !stale") == ["edge-orin-3"]
    assert _rows(m, "state=unsupported") == ["old-agent"]
    assert _rows(m, "") == sorted(h.label for h in m.hosts.values())
    for bad in ("power>lots", "host~=(", "a & & b", "power>"):
        with pytest.raises(FilterError):
            parse_filter(bad)
    assert parse_filter("gpus>2").unknown_fields({"power"}) == ["gpus"]


def test_sort_puts_missing_values_last_and_group_by_label() -> None:
    m = sample_model()
    rows = [host_row(h) for h in m.hosts.values()]
    by_tj = sort_rows(rows, "tokens_per_j", descending=True)
    values = [r.tokens_per_j for r in by_tj]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True) and values[len(present):] == [None] * (len(values) - len(present))
    groups = dict(group_rows(rows, "site"))
    assert sorted(r.host for r in groups["edge"]) == ["edge-orin-3", "edge-orin-4"]
    assert "(no site)" in groups


def test_stale_after_silence_clears_live_power_and_comes_back() -> None:
    now = [0.0]
    m = FleetModel(clock=lambda: now[0], stale_after_s=5.0)
    m.upsert_host("k", "h")
    m.on_power("k", [("gpu-board:0", 200.0)])
    assert m.hosts["k"].status == "live" and fleet_strip(m.hosts.values()).power_by_kind == {"gpu-board": 200.0}
    now[0] = 6.0
    m.tick()
    host = m.hosts["k"]
    assert host.status == "stale" and "no data for 6 s" in host.reason
    strip = fleet_strip(m.hosts.values())
    assert strip.reporting == 0 and strip.power_by_kind == {}  # never shown as live
    m.on_power("k", [("gpu-board:0", 150.0)])
    assert m.hosts["k"].status == "live" and fleet_strip(m.hosts.values()).text().startswith("1 of 1 hosts reporting")


def _record(run_id: str, tpj: float, energy: float, domain: str, *, valid: bool = True, low: bool = False,
            ttft_ms: float | None = None) -> RunRecord:
    return RunRecord(run_id, state="completed", host_id="h", profile={"name": run_id},
                     figures=[Figure("tokens_per_j", tpj, "tok/J", domain, low_confidence=low),
                              Figure("energy_j", energy, "J", domain),
                              Figure("ttft_p99", 10.0 * tpj if ttft_ms is None else ttft_ms, "ms")],
                     validity=Validity(valid, () if valid else ("too few queries",)),
                     energy=[DomainEnergy(domain, "counter", energy, headline=True, low_confidence=low)],
                     ended_unix_ns=int(tpj * 1000))


def test_fleet_tokens_per_joule_per_domain_kind_and_estimates_apart() -> None:
    m = FleetModel()
    for key, rec in (("a", _record("p", 2.0, 100.0, "gpu-board:0")), ("b", _record("p", 4.0, 300.0, "gpu-board:1")),
                     ("c", _record("p", 0.5, 50.0, "estimated")), ("d", _record("p", 3.0, 20.0, "soc-input")),
                     ("e", _record("p", 1.0, 40.0, "soc-input"))):
        m.upsert_host(key, key)
        m.add_record(key, rec)
    strip = fleet_strip(m.hosts.values())
    gpu, soc = strip.kind("gpu-board"), strip.kind("soc-input")
    assert gpu is not None and soc is not None and strip.estimated is not None
    assert (gpu.tokens_per_j, gpu.hosts) == (pytest.approx((200 + 1200) / 400), 2)  # tokens over joules per kind
    assert (soc.tokens_per_j, soc.hosts) == (pytest.approx((60 + 40) / 60), 2)
    assert (strip.estimated.tokens_per_j, strip.estimated.hosts) == (pytest.approx(0.5), 1)
    assert [k.kind for k in strip.tokens_per_j] == ["gpu-board", "soc-input"]  # no pooled figure across kinds
    assert strip.tokens_text() == "tok/J gpu-board 3.5 (2 hosts) · soc-input 1.67 (2 hosts); estimated 0.5 (1) apart"


def test_heatmap_cells_say_what_they_are_and_the_scale_runs_best_high() -> None:
    m = FleetModel()
    cases = {"measured": _record("m", 4.0, 1, "gpu-board:0"), "estimated": _record("e", 1.0, 1, "estimated"),
             "low-confidence": _record("l", 3.0, 1, "gpu-board:0", low=True),
             "invalid": _record("i", 2.0, 1, "gpu-board:0", valid=False)}
    for name, rec in cases.items():
        m.upsert_host(name, name)
        m.add_record(name, RunRecord(**{**rec.__dict__, "profile": {"name": "p"}}))
    m.upsert_host("gone", "gone")
    m.add_record("gone", RunRecord(**{**cases["measured"].__dict__, "profile": {"name": "p"}}))
    m.set_status("gone", "stale", "connection lost")
    hosts = m.sorted_hosts()
    grid = build_grid(hosts, "tokens_per_j")
    states = {grid.row_keys[r]: grid.cell(r, 0) for r in range(len(hosts))}
    for name in cases:
        assert states[name].state == name
    assert states["gone"].state == "stale" and "connection lost" in states["gone"].reason
    assert states["measured"].level == 5 and states["estimated"].level == 1
    assert cell_text(states["estimated"]).endswith("~") and cell_text(states["invalid"]).endswith("!")
    assert "too few queries" in states["invalid"].reason
    assert level_of(1.0, 1.0, 4.0, higher_better=False) == 5  # J/token: the lowest is the best
    assert build_grid(hosts, METRICS["j_per_token"]).cols == ["p"]
    assert [compact(v) for v in (1234.0, 12.34, 0.01234, 0.00001)] == ["1.2k", "12.3", "0.012", "1e-5"]


def test_pareto_compares_one_domain_kind_at_a_time() -> None:
    m = FleetModel()
    for key, rec in (("a", _record("p", 2.0, 1, "gpu-board:0", ttft_ms=20)),
                      ("b", _record("p", 5.0, 1, "gpu-board:1", ttft_ms=60)),
                      ("c", _record("p", 9.0, 1, "soc-input", ttft_ms=50)),
                      ("d", _record("p", 0.4, 1, "estimated", ttft_ms=80))):
        m.upsert_host(key, key)
        m.add_record(key, rec)
    pts = points(m.sorted_hosts(), "ttft_p99", "tokens_per_j")
    assert kinds(pts) == ["gpu-board", "soc-input", "estimated"]  # most points first, then METRICS.md's order
    gpu = of_kind(pts, "gpu-board")
    assert sorted(gpu[i].host for i in frontier(gpu)) == ["a", "b"]  # both efficient among GPU boards
    assert [p.host for p in of_kind(pts, "soc-input")] == ["c"] and [p.host for p in of_kind(pts, "estimated")] == ["d"]
    # one frontier over every kind (what the view no longer draws) would drop b, "beaten" by a Jetson's SoC input
    assert sorted(pts[i].host for i in frontier(pts)) == ["a", "c"]


def test_pareto_frontier_excludes_invalid_points_and_dominated_ones() -> None:
    pts = [ParetoPoint("a", "p", 10, 5, True, ""), ParetoPoint("b", "p", 20, 8, True, ""),
           ParetoPoint("c", "p", 30, 7, True, ""), ParetoPoint("d", "p", 5, 9, False, "not valid"),
           ParetoPoint("e", "p", 10, 4, True, "")]
    assert [pts[i].host for i in frontier(pts)] == ["a", "b"]
    assert [pts[i].host for i in frontier(pts, y_higher_is_better=False)] == ["e"]
    sample = points(sample_model().sorted_hosts(), "ttft_p99", "tokens_per_j")
    bad = [p for p in sample if not p.ok]
    assert bad and all(p.reason for p in bad)
    assert all(sample[i].ok for i in frontier(sample))


def test_backoff_grows_to_a_ceiling_and_resets() -> None:
    b = Backoff(initial_s=0.5, factor=2.0, max_s=3.0)
    assert [b.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next() == 0.5
