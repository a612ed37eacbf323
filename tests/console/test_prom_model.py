"""The console's Prometheus source folded into the fleet model (no server: a PromClient answering from canned
samples, through the real PrometheusFleetSource): power, tokens/J over the span as its own heatmap column,
a target that is down, a selector that matches nothing, and Prometheus unreachable, each said in the status
line while the last hosts stay, marked stale."""

from __future__ import annotations

import pytest

from wattfleet.tui.fleet.heatmap import build_grid
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.prom_fleet import PrometheusFleetSource
from wattfleet.tui.fleet.prom_source import NOT_ANSWERED, TARGET_DOWN, PrometheusSource, host_key
from wattfleet.tui.fleet.promql import PromError, Sample
from wattfleet.tui.fleet.sample_prom import AT_S, RANGE_S, SELECTOR, URL, CannedProm
from wattfleet.tui.fleet.summary import fleet_strip, host_row


class Switchable(CannedProm):
    """The canned server, which can go away (every query fails) or forget a host."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.forget: set[str] = set()
        self.empty = False

    def query(self, expr: str, at_s: float | None = None) -> list[Sample]:
        if self.down:
            raise PromError(f"{self.url}: cannot connect (Connection refused); is Prometheus running there?")
        if self.empty:
            return []
        return [s for s in super().query(expr, at_s) if s.labels.get("host_id") not in self.forget]


@pytest.fixture()
def source() -> tuple[FleetModel, PrometheusSource, Switchable]:
    now = [100.0]
    model = FleetModel(clock=lambda: now[0], stale_after_s=1e9)
    client = Switchable()
    fleet = PrometheusFleetSource(client, selector=SELECTOR, range_s=RANGE_S, clock=lambda: AT_S)
    return model, PrometheusSource(URL, fleet=fleet), client


def _refresh(model: FleetModel, src: PrometheusSource) -> None:
    src.apply(model, src.fleet.refresh())


Fixture = tuple[FleetModel, PrometheusSource, Switchable]


def test_hosts_power_tokens_per_joule_window_and_status(source: Fixture) -> None:
    model, src, _client = source
    _refresh(model, src)
    a100 = model.hosts[host_key("dgx-a100-01")]
    assert a100.status == "live" and a100.power_by_kind() == {"gpu-board": 305.0, "cpu-package": 92.0}
    assert a100.window is not None and a100.window.headline == ("gpu-board", 7.6) and a100.window.label == "last 5m"
    row = host_row(a100)
    assert (row.tokens_per_j, row.tj_domain, row.state) == (7.6, "gpu-board, last 5m", "measuring")
    assert row.device == "NVIDIA A100-SXM4-80GB" and row.labels["rack"] == "1"
    down = model.hosts[host_key("rack3-gpu-5")]
    assert (down.status, down.reason) == ("error", TARGET_DOWN) and not down.power_w
    (line,) = model.source_status.values()
    assert (line.level, line.message) == ("warn", "6 of 7 hosts reporting; not reporting: rack3-gpu-5 (Prometheus's "
                                                  "/targets page says why)")
    strip = fleet_strip(model.hosts.values())
    assert strip.reporting == 6 and strip.power_by_kind["gpu-board"] == 305.0 + 88.0 + 247.0
    assert strip.tokens_per_j == () and "counters, last 5m" in strip.tokens_text()  # no pooled figure invented
    grid = build_grid(model.sorted_hosts(), "tokens_per_j")
    assert grid.cols == ["last 5m"]
    cells = {grid.row_labels[r]: grid.cell(r, 0) for r in range(len(grid.row_keys))}
    assert (cells["dgx-a100-01"].value, cells["dgx-a100-01"].state, cells["dgx-a100-01"].domain) == (
        7.6, "measured", "gpu-board")
    assert "not one run's figure" in cells["dgx-a100-01"].reason
    assert cells["cpu-xeon-12"].state == "estimated" and cells["rack3-gpu-5"].state == "empty"
    jpt = build_grid(model.sorted_hosts(), "j_per_token")
    assert jpt.cell(jpt.row_labels.index("dgx-a100-01"), 0).value == pytest.approx(1 / 7.6)
    assert jpt.cell(jpt.row_labels.index("edge-orin-4"), 0).state == "empty"  # 0 tokens: J/token undefined
    assert build_grid(model.sorted_hosts(), "j_per_correct").cells == {}  # counters give tokens/J only


def test_unreachable_keeps_the_last_hosts_stale_and_says_so(source: Fixture) -> None:
    model, src, client = source
    _refresh(model, src)
    client.down = True
    _refresh(model, src)
    (line,) = model.source_status.values()
    assert line.level == "error" and "Connection refused" in line.message and "showing the hosts as of" in line.message
    hosts = [model.hosts[host_key(h)] for h in ("dgx-a100-01", "edge-orin-3", "cpu-xeon-12")]
    assert all(h.status == "stale" and not h.power_w and "Connection refused" in h.reason for h in hosts)
    assert fleet_strip(model.hosts.values()).reporting == 0  # never shown as live
    client.down = False
    _refresh(model, src)
    assert model.hosts[host_key("dgx-a100-01")].status == "live"
    assert next(iter(model.source_status.values())).level == "warn"  # back to "6 of 7 ... rack3-gpu-5"


def test_a_host_gone_from_the_answer_and_a_selector_that_matches_nothing(source: Fixture) -> None:
    model, src, client = source
    _refresh(model, src)
    client.forget = {"l40s-07"}
    _refresh(model, src)
    l40s = model.hosts[host_key("l40s-07")]
    assert (l40s.status, l40s.reason) == ("stale", NOT_ANSWERED)
    client.empty = True
    _refresh(model, src)
    (line,) = model.source_status.values()
    assert line.level == "warn" and "no wattfleet series match" in line.message
    assert {h.status for h in model.hosts.values()} <= {"stale", "error"}
