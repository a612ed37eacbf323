"""Energy figures of a run, per domain, as METRICS.md defines them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from wattfleet.core.errors import UsageError
from wattfleet.core.model.figure import Figure

MIN_CONFIDENT_QUERIES = 32  # METRICS.md: fewer than about 32 repetitions is low-confidence

DEFINITIONS: dict[str, str] = {
    "energy_j": "energy of the domain over the measured window: counter difference, else trapezoidal "
    "integral of sampled power",
    "power_avg_w": "energy_j / window duration",
    "power_peak_w": "highest power sample in the window",
    "j_per_token": "energy_j / output tokens generated in the window",
    "tokens_per_j": "output tokens / energy_j",
    "mj_per_query": "1000 * energy_j / queries",
    "idle_power_w": "mean power over an idle window before the run; reported beside, never subtracted",
}
UNITS = {"energy_j": "J", "power_avg_w": "W", "power_peak_w": "W", "j_per_token": "J/token",
         "tokens_per_j": "tokens/J", "mj_per_query": "mJ/query", "idle_power_w": "W"}


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


class EnergyLike(Protocol):
    """What the energy figures read of a domain's window: a telemetry EnergyWindow, or a record's DomainEnergy."""

    @property
    def energy_j(self) -> float | None: ...
    @property
    def power_avg_w(self) -> float | None: ...
    @property
    def power_peak_w(self) -> float | None: ...
    @property
    def sample_rate_hz(self) -> float: ...
    @property
    def n_samples(self) -> int: ...
    @property
    def low_confidence(self) -> bool: ...
    @property
    def notes(self) -> tuple[str, ...]: ...
    @property
    def method(self) -> str: ...
    @property
    def idle_power_w(self) -> float | None: ...


def energy_figures(windows: Mapping[str, EnergyLike], output_tokens: int, queries: int) -> list[Figure]:
    """The energy figures of a run, one Figure per figure and domain, domains in sorted order.

    name is one of energy_j, power_avg_w, power_peak_w, j_per_token, tokens_per_j, mj_per_query,
    idle_power_w; value is a float, or None when the domain had no usable data in the window; unit is
    printable ("J", "W", "J/token", "tokens/J", "mJ/query"); definition is the METRICS.md text (for
    power_peak_w it also states the sampling rate); low_confidence is True when the window is (see
    EnergyWindow.notes), always for the "estimated" domain (whose definition says ESTIMATE), and for
    per-query and per-token figures when queries < 32.
    Per-token figures are left out when output_tokens == 0, mj_per_query when queries == 0, and
    idle_power_w when no idle baseline was taken. Figures of different domains must not be added.
    """
    if output_tokens < 0 or queries < 0:
        raise UsageError(f"output_tokens ({output_tokens}) and queries ({queries}) must not be negative")
    out: list[Figure] = []
    few = queries < MIN_CONFIDENT_QUERIES
    for domain in sorted(windows):
        w = windows[domain]
        e = w.energy_j
        rows: list[tuple[str, float | None, bool]] = [
            ("energy_j", e, False),
            ("power_avg_w", w.power_avg_w, False),
            ("power_peak_w", w.power_peak_w, False),
        ]
        if output_tokens > 0:
            rows += [("j_per_token", _ratio(e, output_tokens), True),
                     ("tokens_per_j", _ratio(output_tokens, e), True)]
        if queries > 0:
            rows.append(("mj_per_query", None if e is None else 1000.0 * e / queries, True))
        if w.idle_power_w is not None:
            rows.append(("idle_power_w", w.idle_power_w, False))
        estimate = domain.split(":", 1)[0] == "estimated"
        for name, value, run_figure in rows:
            definition = DEFINITIONS[name]
            if estimate:
                definition = "ESTIMATE from CPU utilisation x TDP, not a measurement: " + definition
            if name == "power_peak_w":
                definition += f" (sampled at {w.sample_rate_hz:.3g} Hz)"
            low = w.low_confidence or (run_figure and few) or value is None or estimate
            out.append(Figure(name, value, UNITS[name], domain, definition, bool(low)))
    return out
