"""energy_figures: names, units, per-token figures, confidence flags."""

from __future__ import annotations

import pytest

from wattfleet.agent.figures.energy import energy_figures
from wattfleet.agent.telemetry import EnergyWindow

S = 1_000_000_000


def _w(domain: str, energy: float | None, low: bool = False, idle: float | None = None) -> EnergyWindow:
    return EnergyWindow(domain, 0, 10 * S, energy, None if energy is None else energy / 10, 300.0,
                        "counter", 20.0, 201, low, [], (), idle)


def test_figures_follow_metrics_definitions() -> None:
    figs = energy_figures({"gpu-board:0": _w("gpu-board:0", 2000.0, idle=60.0)}, 1000, 40)
    by = {f.name: f for f in figs}
    assert set(by) == {"energy_j", "power_avg_w", "power_peak_w", "j_per_token", "tokens_per_j",
                       "mj_per_query", "idle_power_w"}
    assert by["j_per_token"].value == pytest.approx(2.0)
    assert by["tokens_per_j"].value == pytest.approx(0.5)
    assert by["mj_per_query"].value == pytest.approx(50_000.0)
    assert by["power_avg_w"].unit == "W" and by["power_avg_w"].value == pytest.approx(200.0)
    assert "20 Hz" in by["power_peak_w"].definition
    assert all(f.domain == "gpu-board:0" and not f.low_confidence for f in figs)


def test_no_tokens_no_per_token_figures_and_few_queries_flagged() -> None:
    figs = energy_figures({"soc-input": _w("soc-input", 50.0)}, 0, 5)
    names = [f.name for f in figs]
    assert "j_per_token" not in names and "tokens_per_j" not in names
    q = next(f for f in figs if f.name == "mj_per_query")
    assert q.low_confidence and q.value == pytest.approx(10_000.0)
    assert not next(f for f in figs if f.name == "energy_j").low_confidence


def test_domain_without_data_reports_none_flagged() -> None:
    figs = energy_figures({"cpu-package": _w("cpu-package", None)}, 100, 100)
    e = next(f for f in figs if f.name == "energy_j")
    assert e.value is None and e.low_confidence
    assert next(f for f in figs if f.name == "tokens_per_j").value is None


def test_estimate_is_never_presented_as_a_measurement() -> None:
    figs = energy_figures({"estimated": _w("estimated", 300.0)}, 100, 100)
    assert all(f.low_confidence and f.definition.startswith("ESTIMATE") for f in figs)
