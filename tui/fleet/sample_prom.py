"""The sample fleet as a Prometheus server would answer it, for the snapshot of the fleet screen fed by a
Prometheus source (`wattfleet tui --prometheus URL`) and the pictures in docs/screens/.

A `PromClient` that answers the five queries of one refresh from canned samples: the real
`PrometheusFleetSource` folds them (its join, its status line) and the real `PrometheusSource` puts them in
the model. Every number is made up; nothing is asked of a network. Pure.
"""

from __future__ import annotations

from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.prom_fleet import PrometheusFleetSource, fleet_queries
from wattfleet.tui.fleet.prom_source import PrometheusSource
from wattfleet.tui.fleet.promql import PromClient, Sample
from wattfleet.tui.fleet.sample import NOW_S

URL = "http://prometheus.lab:9090"
SELECTOR = 'job="wattfleet"'
RANGE_S = 300.0
AT_S = 1_764_500_000.0
# host, labels, (domain kind, watts), {kind: tokens/J over the range}, run state; up == 0 for the last one
_HOSTS: tuple[tuple[str, dict[str, str], tuple[tuple[str, float], ...], dict[str, float], str], ...] = (
    ("dgx-a100-01", {"site": "lab", "rack": "1", "device_model": "NVIDIA A100-SXM4-80GB"},
     (("gpu-board", 305.0), ("cpu-package", 92.0)), {"gpu-board": 7.6, "cpu-package": 25.1}, "measuring"),
    ("dgx-a100-02", {"site": "lab", "rack": "1", "device_model": "NVIDIA A100-SXM4-80GB"},
     (("gpu-board", 88.0), ("cpu-package", 60.0)), {"gpu-board": 1.9, "cpu-package": 2.8}, "idle"),
    ("l40s-07", {"site": "lab", "rack": "2", "device_model": "NVIDIA L40S"},
     (("gpu-board", 247.0), ("cpu-package", 70.0)), {"gpu-board": 6.1, "cpu-package": 21.5}, "measuring"),
    ("edge-orin-3", {"site": "edge", "rack": "e1", "device_model": "Jetson AGX Orin 64GB"},
     (("soc-input", 37.0),), {"soc-input": 8.0}, "warmup"),
    ("edge-orin-4", {"site": "edge", "rack": "e1", "device_model": "Jetson AGX Orin 64GB"},
     (("soc-input", 12.0),), {"soc-input": 0.0}, "idle"),
    ("cpu-xeon-12", {"site": "lab", "rack": "2", "device_model": "Intel Xeon Gold 6430"},
     (("estimated", 180.0),), {"estimated": 0.42}, "measuring"),
    ("rack3-gpu-5", {"site": "lab", "rack": "3", "device_model": "NVIDIA H100 80GB HBM3"}, (), {}, ""),
)


class CannedProm(PromClient):
    """Answers the console source's five queries from `_HOSTS` (anything else: nothing)."""

    def __init__(self) -> None:
        super().__init__(URL)
        names = {expr: name for name, expr in fleet_queries(SELECTOR, RANGE_S).items()}
        self._answers = {expr: self._answer(name) for expr, name in names.items()}

    def query(self, expr: str, at_s: float | None = None) -> list[Sample]:
        self.requests += 1
        return list(self._answers.get(expr, []))

    @staticmethod
    def _answer(name: str) -> list[Sample]:
        out: list[Sample] = []
        for n, (host, labels, power, tpj, state) in enumerate(_HOSTS):
            instance = f"10.0.{n // 3}.{10 + n}:9400"
            down = not power
            if name == "targets":
                out.append(Sample({"host_id": host, "instance": instance, "job": "wattfleet"}, 0.0 if down else 1.0,
                                  AT_S))
            elif name == "info" and not down:
                out.append(Sample({"__name__": "wattfleet_agent_info", "host_id": host, "instance": instance,
                                   "version": "0.1.0", **labels}, 1.0, AT_S))
            elif name == "power":
                out += [Sample({"host_id": host, "domain_kind": kind}, watts, AT_S) for kind, watts in power]
            elif name == "tokens_per_j":
                out += [Sample({"host_id": host, "domain_kind": kind}, value, AT_S) for kind, value in tpj.items()]
            elif name == "run_state" and state:
                out.append(Sample({"host_id": host, "state": state}, 1.0, AT_S))
        return out


def sample_prometheus_model() -> tuple[FleetModel, PrometheusSource]:
    """A model filled by one refresh of the Prometheus source over the canned server."""
    model = FleetModel(clock=lambda: NOW_S, stale_after_s=1e9)
    fleet = PrometheusFleetSource(CannedProm(), selector=SELECTOR, range_s=RANGE_S, clock=lambda: AT_S)
    source = PrometheusSource(URL, fleet=fleet)
    try:
        for _ in range(3):  # three refreshes: the power charts have a few points
            source.apply(model, fleet.refresh())
    finally:
        fleet.close()
    return model, source
