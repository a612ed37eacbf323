"""Text charts drawn into rows of characters: sparklines, braille line plots, histograms and scatter plots.

No Textual here (the widgets wrap these), so the drawing is deterministic and testable; the glyphs alone
carry the picture, so charts read the same in monochrome (NO_COLOR) as in colour.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"
_BRAILLE_BASE = 0x2800
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] within one braille cell


def sparkline(values: Sequence[float], width: int, lo: float | None = None, hi: float | None = None) -> str:
    """The last `width` values as block glyphs, scaled between lo and hi (default: their own range)."""
    if width <= 0:
        return ""
    tail = list(values)[-width:]
    if not tail:
        return " " * width
    low = min(tail) if lo is None else lo
    high = max(tail) if hi is None else hi
    span = high - low
    out = []
    for v in tail:
        level = 8 if span <= 0 else round((v - low) / span * 7) + 1
        out.append(BLOCKS[max(1, min(8, level))])
    return "".join(out).rjust(width)


def braille_plot(points: Sequence[tuple[float, float]], width: int, height: int,
                 x_range: tuple[float, float] | None = None,
                 y_range: tuple[float, float] | None = None) -> list[str]:
    """`height` rows of `width` braille cells (2x4 dots each) with one dot per point."""
    if width <= 0 or height <= 0:
        return []
    grid = [[0] * width for _ in range(height)]
    if points:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        x0, x1 = x_range or (min(xs), max(xs))
        y0, y1 = y_range or (min(ys), max(ys))
        dots_w, dots_h = width * 2, height * 4
        for x, y in points:
            dx = 0 if x1 <= x0 else int((x - x0) / (x1 - x0) * (dots_w - 1))
            dy = 0 if y1 <= y0 else int((y - y0) / (y1 - y0) * (dots_h - 1))
            dx, dy = max(0, min(dots_w - 1, dx)), max(0, min(dots_h - 1, dy))
            row = height - 1 - dy // 4
            sub_row = 3 - dy % 4
            grid[row][dx // 2] |= _DOTS[sub_row][dx % 2]
    return ["".join(chr(_BRAILLE_BASE + c) if c else " " for c in row) for row in grid]


def histogram(values: Sequence[float], width: int, height: int) -> tuple[list[str], float, float]:
    """Vertical bars: `width` bins over the values' range, `height` rows of block glyphs; also (lo, hi)."""
    if not values or width <= 0 or height <= 0:
        return [" " * max(width, 0)] * max(height, 0), 0.0, 0.0
    lo, hi = min(values), max(values)
    counts = [0] * width
    for v in values:
        i = 0 if hi <= lo else min(width - 1, int((v - lo) / (hi - lo) * width))
        counts[i] += 1
    top = max(counts)
    rows = []
    for r in range(height):
        floor_level = (height - 1 - r) * 8
        row = []
        for c in counts:
            eighths = 0 if top == 0 else math.ceil(c / top * height * 8) if c else 0
            row.append(BLOCKS[max(0, min(8, eighths - floor_level))])
        rows.append("".join(row))
    return rows, lo, hi


def scatter(points: Sequence[tuple[float, float, str]], width: int, height: int,
            x_range: tuple[float, float], y_range: tuple[float, float],
            path: Sequence[tuple[float, float]] = ()) -> list[list[str]]:
    """A character grid with each point's glyph at its place; `path` is drawn first as dots joining the
    given points in order (the frontier), so a point always shows over its line."""
    grid = [[" "] * width for _ in range(height)]
    x0, x1 = x_range
    y0, y1 = y_range

    def place(x: float, y: float) -> tuple[int, int]:
        c = 0 if x1 <= x0 else round((x - x0) / (x1 - x0) * (width - 1))
        r = 0 if y1 <= y0 else round((y - y0) / (y1 - y0) * (height - 1))
        return max(0, min(width - 1, c)), height - 1 - max(0, min(height - 1, r))

    for (ax, ay), (bx, by) in itertools.pairwise(path):
        (c0, r0), (c1, r1) = place(ax, ay), place(bx, by)
        steps = max(abs(c1 - c0), abs(r1 - r0), 1)
        for s in range(steps + 1):
            c = round(c0 + (c1 - c0) * s / steps)
            r = round(r0 + (r1 - r0) * s / steps)
            grid[r][c] = "·"
    for x, y, glyph in points:
        c, r = place(x, y)
        grid[r][c] = glyph
    return grid


def nice_range(lo: float, hi: float) -> tuple[float, float]:
    """A range a little wider than [lo, hi], never empty."""
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.08
    return max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad
