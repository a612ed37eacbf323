"""Inline SVG charts for the HTML report: the tokens/J heatmap, the Pareto view and budget bars.

Plain strings, no scripts, no external fonts or images: the page must open anywhere, offline.
Every colour is backed by text or a pattern, so the charts read in greyscale too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from wattfleet.tui.fleet.audit.model import domain_key
from wattfleet.tui.fleet.audit.points import OperatingPoint, pareto_front
from wattfleet.tui.fleet.audit.power import Efficiency
from wattfleet.tui.fleet.audit.stats import median

FONT = "font-family=\"sans-serif\" font-size=\"11\""
# A diverging scale: well below the profile's median (orange) .. median (light) .. well above (blue).
LOW, MID, HIGH = (204, 85, 0), (240, 240, 240), (33, 102, 172)
MAX_HEATMAP_ROWS = 400


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def colour(ratio: float) -> str:
    """Colour of a tokens/J ratio to the column median, on a log2 scale clipped at 1/2 and 2."""
    t = max(-1.0, min(1.0, math.log2(ratio))) if ratio > 0 else -1.0
    return _mix(MID, HIGH, t) if t >= 0 else _mix(MID, LOW, -t)


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


_DEFS = """<defs>
<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="1.5"/></pattern>
</defs>"""


def heatmap(effs: Sequence[Efficiency]) -> str:
    """Hosts x profiles; the colour is tokens/J against the profile's median host, the text the value."""
    profiles = sorted({e.profile for e in effs})
    hosts = sorted({e.host for e in effs})
    shown = hosts[:MAX_HEATMAP_ROWS]
    cell = {(e.host, e.profile): e for e in effs}
    by_column: dict[tuple[str, str], list[float]] = {}
    for e in effs:  # colours compare a host with the profile's hosts measured under the same domain key only
        if e.tokens_per_j and not e.estimated:
            by_column.setdefault((e.profile, domain_key(e.domain)), []).append(e.tokens_per_j)
    medians = {k: median(v) for k, v in by_column.items()}
    label_w, cw, ch, top = max(80, 7 * max((len(h) for h in shown), default=4)), 110, 18, 40
    width, height = label_w + cw * len(profiles) + 10, top + ch * len(shown) + 10
    out = [f'<svg width="{width}" height="{height}" role="img" '
           f'aria-label="tokens per joule heatmap">', _DEFS]
    for j, p in enumerate(profiles):
        x = label_w + j * cw + cw / 2
        out.append(f'<text x="{x:.0f}" y="{top - 8}" text-anchor="middle" {FONT} font-weight="bold">'
                   f'{escape(p[:18])}</text>')
    for i, h in enumerate(shown):
        y = top + i * ch
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" {FONT}>{escape(h)}</text>')
        for j, p in enumerate(profiles):
            x = label_w + j * cw
            found = cell.get((h, p))
            if found is None:
                out.append(f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="#fff" stroke="#ddd"/>')
                continue
            e = found
            m = medians.get((p, domain_key(e.domain)))
            fill = colour(e.tokens_per_j / m) if e.tokens_per_j and m and not e.estimated else "#ffffff"
            title = (f"{h} / {p}: {_fmt(e.tokens_per_j) if e.tokens_per_j else 'no'} tokens/J "
                     f"[{e.domain or 'no power source'}], {e.n_runs} run(s), {e.n_valid} valid")
            out.append(f'<g><title>{escape(title)}</title>'
                       f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{fill}" '
                       f'stroke="{"#000" if e.low_confidence else "none"}" '
                       f'stroke-dasharray="{"3,2" if e.low_confidence else "none"}"/>')
            if e.estimated:
                out.append(f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="url(#hatch)" '
                           'opacity="0.5"/>')
            if e.invalid:
                out.append(f'<line x1="{x}" y1="{y}" x2="{x + cw - 2}" y2="{y + ch - 2}" stroke="#b00" '
                           'stroke-width="1.5"/>')
            text = (_fmt(e.tokens_per_j) if e.tokens_per_j else "no power") + (" E" if e.estimated else "") + (
                " ~" if e.low_confidence and e.tokens_per_j else "") + (" ✕" if e.invalid else "")
            out.append(f'<text x="{x + cw / 2 - 1:.0f}" y="{y + 12}" text-anchor="middle" {FONT}>{escape(text)}'
                       '</text></g>')
    out.append("</svg>")
    note = "" if len(hosts) <= MAX_HEATMAP_ROWS else (
        f"<p>First {MAX_HEATMAP_ROWS} of {len(hosts)} hosts; the CSV and JSON reports have them all.</p>")
    return "\n".join(out) + note


def heatmap_legend() -> str:
    stops = [(0.5, "½ x median"), (0.71, ""), (1.0, "median"), (1.41, ""), (2.0, "2 x median")]
    out = ['<svg width="640" height="56" role="img" aria-label="legend">', _DEFS]
    for i, (ratio, text) in enumerate(stops):
        out.append(f'<rect x="{10 + i * 46}" y="6" width="44" height="16" fill="{colour(ratio)}"/>')
        if text:
            out.append(f'<text x="{32 + i * 46}" y="36" text-anchor="middle" {FONT}>{escape(text)}</text>')
    x = 260
    out.append(f'<rect x="{x}" y="6" width="44" height="16" fill="#fff" stroke="#999"/>'
               f'<rect x="{x}" y="6" width="44" height="16" fill="url(#hatch)" opacity="0.5"/>'
               f'<text x="{x + 50}" y="18" {FONT}>E: estimate, not a measurement</text>')
    out.append(f'<rect x="{x}" y="30" width="44" height="16" fill="#eee" stroke="#000" stroke-dasharray="3,2"/>'
               f'<text x="{x + 50}" y="42" {FONT}>~: low confidence</text>')
    out.append(f'<rect x="{x + 170}" y="30" width="44" height="16" fill="#eee"/>'
               f'<line x1="{x + 170}" y1="30" x2="{x + 214}" y2="46" stroke="#b00" stroke-width="1.5"/>'
               f'<text x="{x + 220}" y="42" {FONT}>✕: no valid run</text>')
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True)
class _Axis:
    lo: float
    hi: float
    px0: float
    px1: float
    log: bool = False

    def __call__(self, v: float) -> float:
        f = (lambda z: math.log10(z)) if self.log else (lambda z: z)
        lo, hi = f(self.lo), f(self.hi)
        t = 0.5 if hi == lo else (f(v) - lo) / (hi - lo)
        return self.px0 + t * (self.px1 - self.px0)


def pareto(points: Sequence[OperatingPoint], eligible_ids: set[int], title: str) -> str:
    """tokens/J (up) against p99 TTFT (right, log scale); the frontier joined; hollow = not eligible."""
    pts = [(i, p) for i, p in enumerate(points) if p.tokens_per_j is not None and p.ttft_p99_ms]
    w, h, left, bottom = 520, 300, 60, 40
    out = [f'<svg width="{w}" height="{h}" role="img" '
           f'aria-label="{escape(title)}">',
           f'<text x="{w / 2}" y="14" text-anchor="middle" {FONT} font-weight="bold">{escape(title)}</text>']
    if not pts:
        out.append(f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" {FONT}>no point has both tokens/J and '
                   'p99 TTFT</text></svg>')
        return "\n".join(out)
    xs = [p.ttft_p99_ms or 0.0 for _, p in pts]
    ys = [p.tokens_per_j or 0.0 for _, p in pts]
    xa = _Axis(min(xs) * 0.8, max(xs) * 1.25, left, w - 20, log=min(xs) > 0)
    ya = _Axis(0.0, max(ys) * 1.1, h - bottom, 25)
    out.append(f'<line x1="{left}" y1="{h - bottom}" x2="{w - 20}" y2="{h - bottom}" stroke="#333"/>'
               f'<line x1="{left}" y1="{h - bottom}" x2="{left}" y2="25" stroke="#333"/>')
    for v in (xa.lo, (xa.lo * xa.hi) ** 0.5 if xa.log else (xa.lo + xa.hi) / 2, xa.hi):
        out.append(f'<text x="{xa(v):.0f}" y="{h - bottom + 14}" text-anchor="middle" {FONT}>{_fmt(v)}</text>')
    for v in (ya.lo, ya.hi / 2, ya.hi):
        out.append(f'<text x="{left - 4}" y="{ya(v) + 4:.0f}" text-anchor="end" {FONT}>{_fmt(v)}</text>')
    out.append(f'<text x="{(left + w) / 2:.0f}" y="{h - 8}" text-anchor="middle" {FONT}>p99 TTFT, ms (log)</text>'
               f'<text x="14" y="{h / 2:.0f}" transform="rotate(-90 14 {h / 2:.0f})" text-anchor="middle" {FONT}>'
               'tokens/J</text>')
    sub = [p for _, p in pts]
    front = sorted((sub[i] for i in pareto_front(sub)), key=lambda p: p.ttft_p99_ms or 0.0)
    if len(front) > 1:
        path = " ".join(f"{xa(p.ttft_p99_ms or 0):.1f},{ya(p.tokens_per_j or 0):.1f}" for p in front)
        out.append(f'<polyline points="{path}" fill="none" stroke="#2166ac" stroke-width="1.5"/>')
    front_ids = {id(p) for p in front}
    for i, p in pts:
        x, y = xa(p.ttft_p99_ms or 0.0), ya(p.tokens_per_j or 0.0)
        filled = i in eligible_ids
        tip = f"{p.host} {p.setting}: {_fmt(p.tokens_per_j or 0)} tokens/J, p99 TTFT {_fmt(p.ttft_p99_ms or 0)} ms"
        shape = (f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8"' if id(p) in front_ids
                 else f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5"')
        out.append(f'<g><title>{escape(tip)}</title>{shape} fill="{"#2166ac" if filled else "#fff"}" '
                   'stroke="#2166ac"/></g>')
    out.append(f'<text x="{w - 20}" y="30" text-anchor="end" {FONT}>■ on the frontier  ● eligible  '
               '○ invalid or misses the SLO</text>')
    out.append("</svg>")
    return "\n".join(out)


def budget_bars(rows: Sequence[tuple[str, float, float]]) -> str:
    """One bar per budget: used (filled) and slack (outlined), or over (red past the mark)."""
    w, bar_h, left = 640, 18, 120
    h = 10 + len(rows) * (bar_h + 8)
    scale = max((max(limit, used) for _, limit, used in rows), default=1.0) or 1.0
    px = (w - left - 170) / scale
    out = [f'<svg width="{w}" height="{h}" role="img" aria-label="budgets">']
    for i, (name, limit, used) in enumerate(rows):
        y = 6 + i * (bar_h + 8)
        over = used > limit
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" {FONT}>{escape(name)}</text>'
                   f'<rect x="{left}" y="{y}" width="{limit * px:.1f}" height="{bar_h}" fill="#fff" stroke="#333"/>'
                   f'<rect x="{left}" y="{y + 3}" width="{used * px:.1f}" height="{bar_h - 6}" '
                   f'fill="{"#c0392b" if over else "#4a7fb5"}"/>'
                   f'<text x="{left + max(limit, used) * px + 6:.1f}" y="{y + 13}" {FONT}>'
                   f'{_fmt(used)} / {_fmt(limit)} W{" OVER" if over else ""}</text>')
    out.append("</svg>")
    return "\n".join(out)
