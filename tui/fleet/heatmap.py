"""The heatmap's data: one cell per (host or device, profile), with its value, its state and why. Pure.

A cell's state says how far to trust it: measured, estimated (a model: CPU utilisation x TDP),
low-confidence (a short or gappy energy window), invalid (the run's validity checks failed, or its answers
failed the quality check), failed, running, stale (the host is not reporting now) or empty. A Prometheus
source adds one column, "last 5m": tokens/J from the host's counters over that span (every token and joule
in it, idle included), in its headline domain kind, never one run's figure. Levels 1-5 place the value on
the grid's scale with 5 the best, whatever the metric's direction; the shade glyphs carry the level without
colour (NO_COLOR), the colours carry it with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from wattfleet.core.model import Figure, RunRecord, is_estimate
from wattfleet.tui.fleet.model import HostView

CellState = Literal["measured", "estimated", "low-confidence", "invalid", "failed", "running", "stale", "empty"]
SHADES = ("·", "░", "▒", "▓", "█")  # level 1 (worst) .. 5 (best)
LEVEL_COLOURS = ("#d7005f", "#ff8700", "#ffd700", "#87d75f", "#00af5f")  # xterm-256 161, 208, 220, 113, 35
MARKS: dict[CellState, str] = {
    "measured": " ", "estimated": "~", "low-confidence": "*", "invalid": "!", "failed": "x", "running": "…",
    "stale": "?", "empty": " ",
}
STATE_MEANING: dict[CellState, str] = {
    "measured": "measured",
    "estimated": "estimated power (CPU util x TDP), not a measurement",
    "low-confidence": "low confidence (short or gappy energy window)",
    "invalid": "not valid (validity or quality check failed)",
    "failed": "run failed or was cancelled",
    "running": "running now",
    "stale": "host not reporting; last known value",
    "empty": "no run",
}


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    "tokens_per_j": Metric("tokens_per_j", "tokens/J", "tok/J", True),
    "j_per_token": Metric("j_per_token", "J/token", "J/tok", False),
    "j_per_correct": Metric("j_per_correct", "J per correct answer", "J/ok", False),
    "correct_per_s": Metric("correct_per_s", "correct answers/s", "ok/s", True),
    "tokens_per_s": Metric("tokens_per_s", "tokens/s", "tok/s", True),
}


def metric_figure(record: RunRecord, metric: str) -> Figure | None:
    """The metric in the record's headline domain when it is an energy figure, else the plain figure."""
    return record.headline(metric) or record.figure(metric)


@dataclass(frozen=True)
class HeatCell:
    value: float | None
    state: CellState
    reason: str
    domain: str = ""
    run_id: str = ""
    level: int = 0  # 1..5 on the grid's scale, 0 without a value


@dataclass
class HeatGrid:
    metric: Metric
    row_keys: list[str]
    row_labels: list[str]
    cols: list[str]
    cells: dict[tuple[int, int], HeatCell] = field(default_factory=dict)
    vmin: float | None = None
    vmax: float | None = None

    def cell(self, row: int, col: int) -> HeatCell:
        return self.cells.get((row, col), EMPTY)

    def domain_kinds(self) -> list[str]:
        """The energy domain kinds of the cells with a value: more than one, and one scale spans figures that
        are not comparable (METRICS.md); the screen says so."""
        return sorted({c.domain.split(":", 1)[0] for c in self.cells.values() if c.domain and c.value is not None})

    def scale_marks(self) -> list[tuple[str, float, float]]:
        """(shade glyph, low, high) per level, best last, in the metric's own direction."""
        if self.vmin is None or self.vmax is None:
            return []
        out = []
        for level in range(1, 6):
            lo, hi = _bounds(level, self.vmin, self.vmax, self.metric.higher_is_better)
            out.append((SHADES[level - 1], lo, hi))
        return out


EMPTY = HeatCell(None, "empty", "no run of this profile on this host")


def _bounds(level: int, vmin: float, vmax: float, higher_better: bool) -> tuple[float, float]:
    step = (vmax - vmin) / 5
    index = level - 1 if higher_better else 5 - level
    return vmin + step * index, vmin + step * (index + 1)


def level_of(value: float, vmin: float, vmax: float, higher_better: bool) -> int:
    if vmax <= vmin:
        return 5
    frac = (value - vmin) / (vmax - vmin)
    if not higher_better:
        frac = 1.0 - frac
    return max(1, min(5, 1 + math.floor(frac * 5 - 1e-9) if frac > 0 else 1))


WINDOW_METRICS = ("tokens_per_j", "j_per_token")  # what counters give; the other metrics need a run record


def window_cell(host: HostView, metric: Metric) -> HeatCell:
    """The cell of the host's counter window (a Prometheus source), in its headline domain kind."""
    window = host.window
    headline = window.headline if window is not None else None
    if window is None or headline is None:
        return HeatCell(None, "empty", "no tokens/J from the counters over this span (no tokens, or no energy "
                                       "counter)")
    if metric.name not in WINDOW_METRICS:
        return HeatCell(None, "empty", f"the counters give tokens/J only; {metric.label} needs a run record")
    kind, value = headline
    if metric.name == "j_per_token":
        if not value > 0:
            return HeatCell(None, "empty", f"no tokens over the {window.label}: J/token is undefined")
        value = 1.0 / value
    what = (f"{window.source} counters over the {window.label}: every token and joule of the span, idle and "
            f"warm-up included, not one run's figure; in {kind}")
    if host.status in ("stale", "error"):
        return HeatCell(value, "stale", f"host not reporting ({host.reason or host.status}); {what}", kind)
    if is_estimate(kind):
        return HeatCell(value, "estimated", f"estimated power (CPU util x TDP), a model; {what}", kind)
    return HeatCell(value, "measured", what, kind)


def cell_for(host: HostView, profile: str, metric: Metric) -> HeatCell:
    if host.window is not None and profile == host.window.label and profile not in host.results:
        return window_cell(host, metric)
    record = host.results.get(profile)
    running = host.live_run is not None and host.live_run.profile == profile and host.reporting
    if record is None:
        if running:
            assert host.live_run is not None
            return HeatCell(None, "running", f"{host.live_run.state} {host.live_run.fraction:.0%}")
        return EMPTY
    figure = metric_figure(record, metric.name)
    value = None if figure is None else figure.value
    domain = "" if figure is None else figure.domain
    if record.state != "completed":
        why = f"run {record.state}" + (f": {record.error}" if record.error else "")
        return HeatCell(value if record.state == "interrupted" else None, "failed", why, domain, record.run_id)
    if value is None:
        why = f"the record has no {metric.label}" + ("" if record.headline_domain else " (no power domain measured)")
        return HeatCell(None, "failed", why, domain, record.run_id)
    if not record.validity.valid:
        reason = "; ".join(record.validity.reasons) or "the run's validity checks were not met"
        return HeatCell(value, "invalid", f"not valid: {reason}", domain, record.run_id)
    if record.quality and record.quality.get("flagged"):
        return HeatCell(value, "invalid", f"quality check failed: {record.quality.get('detail', '')}".strip(),
                        domain, record.run_id)
    if host.status in ("stale", "error") and host.source != "records":
        return HeatCell(value, "stale", f"host not reporting ({host.reason or host.status}); value from the last run",
                        domain, record.run_id)
    if domain and is_estimate(domain):
        tdp = record.host_cpu.tdp_w if record.host_cpu is not None else None
        return HeatCell(value, "estimated", "estimated: host CPU utilisation x TDP"
                        + (f" {tdp:g} W" if tdp else "") + ", a model, not a measurement", domain, record.run_id)
    if figure is not None and figure.low_confidence:
        notes = next((e.notes for e in record.energy if e.domain == domain), ())
        return HeatCell(value, "low-confidence", "low confidence: " + ("; ".join(notes) or "short energy window"),
                        domain, record.run_id)
    return HeatCell(value, "measured", f"measured in {domain}" if domain else "measured", domain, record.run_id)


_CACHE: dict[tuple[int, str, str, str], tuple[RunRecord, HeatCell]] = {}
_CACHE_MAX = 200_000


def _cached_cell(host: HostView, profile: str, metric: Metric) -> HeatCell:
    """cell_for, remembered per (record, metric, host status): a redraw of an unchanged fleet reads no figure."""
    record = host.results.get(profile)
    if record is None or (host.live_run is not None and host.live_run.profile == profile):
        return cell_for(host, profile, metric)
    key = (id(record), metric.name, host.status, host.reason)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is record:
        return hit[1]
    if len(_CACHE) > _CACHE_MAX:
        _CACHE.clear()
    cell = cell_for(host, profile, metric)
    _CACHE[key] = (record, cell)
    return cell


def build_grid(hosts: Sequence[HostView], metric: Metric | str = "tokens_per_j",
               cols: Sequence[str] | None = None) -> HeatGrid:
    """Rows are the hosts given (in that order), columns the profiles with a result (or `cols`)."""
    m = METRICS[metric] if isinstance(metric, str) else metric
    columns = list(cols) if cols is not None else sorted({p for h in hosts for p in h.results}
                                                          | {h.live_run.profile for h in hosts if h.live_run})
    if cols is None:  # the counters' spans (a Prometheus source) after the profiles
        columns += sorted({h.window.label for h in hosts if h.window is not None} - set(columns))
    grid = HeatGrid(m, [h.key for h in hosts], [h.label for h in hosts], columns)
    for r, host in enumerate(hosts):
        for c, profile in enumerate(columns):
            cell = _cached_cell(host, profile, m)
            if cell.state != "empty":
                grid.cells[(r, c)] = cell
    scaled = [c.value for c in grid.cells.values() if c.value is not None and c.state not in ("failed",)]
    if scaled:
        grid.vmin, grid.vmax = min(scaled), max(scaled)
        for pos, cell in grid.cells.items():
            if cell.value is not None and cell.state != "failed":
                grid.cells[pos] = HeatCell(cell.value, cell.state, cell.reason, cell.domain, cell.run_id,
                                           level_of(cell.value, grid.vmin, grid.vmax, m.higher_is_better))
    return grid


def compact(value: float | None) -> str:
    """A number in at most 5 characters: 1234 -> 1.2k, 12.34 -> 12.3, 0.01234 -> 0.012."""
    if value is None:
        return "-"
    a = abs(value)
    if a >= 99_950:
        return f"{value:.0e}".replace("e+0", "e")
    if a >= 1000:
        return f"{value / 1000:.1f}k"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    if a >= 0.001 or a == 0:
        return f"{value:.3f}"[:5]
    return f"{value:.0e}".replace("e-0", "e-")


CELL_WIDTH = 9


def cell_text(cell: HeatCell) -> str:
    """Exactly CELL_WIDTH characters: two shade glyphs, the value, the state mark."""
    if cell.state == "empty":
        return "   -     "
    if cell.state == "running":
        return f"  {cell.reason.split()[-1] if cell.reason else '':>5}…"[:CELL_WIDTH].ljust(CELL_WIDTH)
    shade = SHADES[cell.level - 1] * 2 if cell.level else "  "
    return f"{shade} {compact(cell.value):>5}{MARKS[cell.state]}"[:CELL_WIDTH].ljust(CELL_WIDTH)
