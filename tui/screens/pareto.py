"""The Pareto view: for the runs on screen, tokens/J (or another efficiency, or task success where records
carry it) against p99 TTFT or TPOT; one point per host and profile, the frontier marked, points that are
not valid or failed their quality check marked and kept off the frontier. Energy figures are compared
within one domain kind at a time (`d` moves to the next kind); the title says which, and how many points
of other kinds are left out."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from wattfleet.tui.fleet.heatmap import METRICS, compact
from wattfleet.tui.fleet.pareto import LATENCIES, SUCCESS, ParetoPoint, frontier, has_success, kinds, of_kind, points
from wattfleet.tui.widgets.canvas import nice_range, scatter

if TYPE_CHECKING:
    from wattfleet.tui.app import WattfleetApp

GLYPH_FRONT, GLYPH_OK, GLYPH_BAD = "◆", "●", "✗"
Y_CHOICES = ("tokens_per_j", "j_per_token", "j_per_correct", "success_rate")


def point_glyph(p: ParetoPoint, on_front: bool) -> str:
    return GLYPH_BAD if not p.ok else GLYPH_FRONT if on_front else GLYPH_OK


def plot(pts: list[ParetoPoint], front: list[int], width: int, height: int, x_label: str, y_label: str) -> Text:
    text = Text()
    if not pts:
        text.append("no runs with both figures on screen yet", style="dim")
        return text
    xr = nice_range(min(p.x for p in pts), max(p.x for p in pts))
    yr = nice_range(min(p.y for p in pts), max(p.y for p in pts))
    label_w = 7
    order = sorted(range(len(pts)), key=lambda i: (i in front, not pts[i].ok))  # the frontier drawn last, on top
    marks = [(pts[i].x, pts[i].y, point_glyph(pts[i], i in front)) for i in order]
    grid = scatter(marks, max(10, width - label_w - 1), height, xr, yr, [(pts[i].x, pts[i].y) for i in front])
    styles = {GLYPH_FRONT: Style(color="#00af5f", bold=True), GLYPH_OK: Style(color="#5fafd7"),
              GLYPH_BAD: Style(color="#d7005f", bold=True), "·": Style(color="#00af5f")}
    for r, row in enumerate(grid):
        label = compact(yr[1]) if r == 0 else compact(yr[0]) if r == len(grid) - 1 else ""
        text.append(label.rjust(label_w - 1) + "│", Style(dim=True))
        for ch in row:
            text.append(ch, styles.get(ch, Style()))
        text.append("\n")
    axis = f"{compact(xr[0])}".ljust(max(1, width - label_w - 6)) + compact(xr[1])
    text.append(" " * label_w + axis + "\n", Style(dim=True))
    text.append(" " * label_w + f"x: {x_label} (lower is better) · y: {y_label}", Style(dim=True))
    return text


class ParetoScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "toggle_x", "TTFT/TPOT"),
        Binding("y", "toggle_y", "Y axis"),
        Binding("d", "next_kind", "Domain"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.ready = False  # the app's tick redraws only mounted screens
        self.keys = keys
        self.latency = LATENCIES[0]
        self.y = "tokens_per_j"
        self.kind: str | None = None  # the domain kind on screen; None: the one with most points
        self.kinds: list[str] = []
        self.pts: list[ParetoPoint] = []  # the points of self.kind, the only ones compared

    @property
    def wapp(self) -> WattfleetApp:
        return cast("WattfleetApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="pareto-title")
        yield Static(id="pareto-plot")
        yield Static(f"{GLYPH_FRONT} frontier (joined by dots)  {GLYPH_OK} dominated  {GLYPH_BAD} not valid or "
                     "failed quality: never on the frontier", id="pareto-legend")
        yield DataTable(id="pareto-points", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#pareto-points", DataTable)
        for name in ("", "host / profile", "latency ms", "y", "domain", "why not on the frontier"):
            table.add_column(name, key=name)
        self.refresh_view()
        table.focus()
        self.ready = True

    def _hosts(self) -> list:  # type: ignore[type-arg]
        model = self.wapp.model
        keys = self.keys or list(model.hosts)
        return [model.hosts[k] for k in keys if k in model.hosts]

    def refresh_view(self) -> None:
        hosts = self._hosts()
        y_metric = SUCCESS if self.y == "success_rate" else METRICS[self.y]
        every = points(hosts, self.latency, y_metric)
        self.kinds = kinds(every)
        if self.kind not in self.kinds:
            self.kind = self.kinds[0] if self.kinds else None
        self.pts = of_kind(every, self.kind) if self.kind is not None else []
        front = frontier(self.pts, y_metric.higher_is_better)
        x_label = f"p99 {self.latency.split('_')[0].upper()} ms"
        y_label = f"{y_metric.label} ({'higher' if y_metric.higher_is_better else 'lower'} is better)"
        title = Text(f"Pareto: {y_metric.label} against {x_label}", style="bold")
        if self.kind:
            title.append(f" · measured in {self.kind}", style="bold")
            if self.kind == "estimated":
                title.append(" (CPU util x TDP: a model, not a measurement)", style="italic")
        title.append(f" · {len(self.pts)} points, {len(front)} on the frontier", style="dim")
        others = [(k, len(of_kind(every, k))) for k in self.kinds if k != self.kind]
        if others:
            title.append(" · not compared, other domains: " + ", ".join(f"{k} {n}" for k, n in others)
                         + " (d: next domain)", style="italic")
        self.query_one("#pareto-title", Static).update(title)
        size = self.size
        height = max(5, (size.height or 24) // 2 - 4)
        self.query_one("#pareto-plot", Static).update(plot(self.pts, front, size.width or 80, height, x_label,
                                                           y_label))
        table = self.query_one("#pareto-points", DataTable)
        table.clear()
        order = front + [i for i in range(len(self.pts)) if i not in front]
        for i in order:
            p = self.pts[i]
            why = p.reason or ("" if i in front else "dominated")
            domain = p.domain + (" (a model)" if p.estimated else "")
            table.add_row(point_glyph(p, i in front), p.name, compact(p.x),
                          f"{compact(p.y)}{'*' if p.low_confidence else ''}", domain, why)

    def action_next_kind(self) -> None:
        """Domain: compare the points of the next energy domain kind (never two kinds on one frontier)."""
        if self.kinds:
            at = self.kinds.index(self.kind) if self.kind in self.kinds else -1
            self.kind = self.kinds[(at + 1) % len(self.kinds)]
        self.refresh_view()

    def action_toggle_x(self) -> None:
        """Latency axis: p99 TTFT or p99 TPOT."""
        self.latency = LATENCIES[(LATENCIES.index(self.latency) + 1) % len(LATENCIES)]
        self.refresh_view()

    def action_toggle_y(self) -> None:
        """Y axis: tokens/J, J/token, J per correct answer, task success (where records have it)."""
        choices = [c for c in Y_CHOICES if c != "success_rate" or has_success(self._hosts())]
        self.y = choices[(choices.index(self.y) + 1) % len(choices)] if self.y in choices else choices[0]
        self.refresh_view()

    def action_back(self) -> None:
        """Back."""
        self.app.pop_screen()
