"""Charts and legends as Rich Text, drawn from the canvas helpers: the screens put them in Statics and
redraw them on the console's tick (never per message)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.style import Style
from rich.text import Text

from wattfleet.core.model import is_estimate
from wattfleet.tui.fleet.heatmap import LEVEL_COLOURS, MARKS, HeatGrid, compact
from wattfleet.tui.widgets.canvas import braille_plot, histogram, sparkline

AXIS = Style(dim=True)


def power_chart(history: Mapping[str, Sequence[tuple[float, float]]], width: int, live: bool) -> Text:
    """One sparkline per domain with its latest watts; estimated domains say so."""
    text = Text()
    if not history:
        text.append("no power readings" + ("" if live else " (host not reporting)"), AXIS)
        return text
    label_w = min(max(len(d) for d in history) + 1, 16)
    spark_w = max(8, width - label_w - 12)
    for i, (domain, series) in enumerate(sorted(history.items())):
        values = [w for _t, w in series]
        if i:
            text.append("\n")
        text.append(domain[: label_w - 1].ljust(label_w), Style(bold=True))
        text.append(sparkline(values, spark_w), Style(color="#5fafd7"))
        last = f" {values[-1]:6.1f} W" if values and live else "      - W"
        text.append(last, Style(italic=is_estimate(domain)))
    return text


def line_chart(points: Sequence[tuple[float, float]], width: int, height: int, y_unit: str, x_unit: str) -> Text:
    """A braille scatter of (x, y) with the y range on the left and the x range below."""
    text = Text()
    if not points:
        text.append("no data yet", AXIS)
        return text
    ys = [p[1] for p in points]
    xs = [p[0] for p in points]
    lo, hi = min(ys), max(ys)
    label_w = 7
    rows = braille_plot(points, max(4, width - label_w - 1), height, None, (lo, hi if hi > lo else lo + 1))
    for i, row in enumerate(rows):
        label = compact(hi) if i == 0 else compact(lo) if i == len(rows) - 1 else ""
        text.append(label.rjust(label_w - 1) + "│", AXIS)
        text.append(row, Style(color="#87afff"))
        text.append("\n")
    text.append(f"{'':>{label_w}}{compact(min(xs))} {x_unit}".ljust(width - 8) + f"{compact(max(xs))} {x_unit}", AXIS)
    text.append(f"\n{'':>{label_w}}y: {y_unit}, {len(points)} points", AXIS)
    return text


def histogram_chart(values: Sequence[float], width: int, height: int, unit: str) -> Text:
    text = Text()
    if not values:
        text.append("no data yet", AXIS)
        return text
    rows, lo, hi = histogram(values, max(4, width - 2), height)
    for row in rows:
        text.append("│", AXIS)
        text.append(row, Style(color="#d7af5f"))
        text.append("\n")
    text.append(f" {compact(lo)} {unit}".ljust(max(width - 10, 1)) + f"{compact(hi)} {unit}", AXIS)
    text.append(f"\n n={len(values)}", AXIS)
    return text


def legend(grid: HeatGrid) -> Text:
    """The heatmap's scale (shade glyph per range, best last) and what each mark means."""
    text = Text()
    marks = grid.scale_marks()
    unit = grid.metric.unit
    if marks:
        text.append(f"{unit}, {'higher' if grid.metric.higher_is_better else 'lower'} better: ", Style(bold=True))
        for level, (glyph, lo, hi) in enumerate(marks, start=1):
            text.append(glyph * 2, Style(color=LEVEL_COLOURS[level - 1]))
            text.append(f"{compact(lo)}-{compact(hi)} ")
    else:
        text.append(f"{grid.metric.label}: no values yet", AXIS)
    text.append("\n")
    for state, words in (("estimated", "estimated"), ("low-confidence", "low confidence"), ("invalid", "not valid"),
                         ("stale", "stale"), ("failed", "failed"), ("running", "running")):
        text.append(f"{MARKS[state]} ", Style(bold=True))  # type: ignore[index]
        text.append(f"{words}  ", AXIS)
    return text
