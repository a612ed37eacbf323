"""The heatmap: rows of hosts, columns of profiles, drawn line by line (Textual's Line API: a ScrollView
with render_line), so 1,000 rows cost only the lines on screen. Arrow keys move a cursor; the cell under
it is described below the grid, and Enter opens its host."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from wattfleet.tui.fleet.heatmap import CELL_WIDTH, LEVEL_COLOURS, HeatCell, HeatGrid, Metric, cell_text

LABEL_WIDTH = 16
PLAIN = Style()  # never a segment without a style: Textual's NO_COLOR (monochrome) filter reads every one
_MARK_STYLE = {
    "estimated": Style(italic=True), "low-confidence": Style(italic=True), "invalid": Style(strike=True),
    "failed": Style(dim=True), "stale": Style(dim=True), "running": Style(dim=True), "empty": Style(dim=True),
}


def row_segments(grid: HeatGrid, row: int, first_col: int, ncols: int, cursor: tuple[int, int] | None,
                 label_width: int = LABEL_WIDTH) -> list[Segment]:
    """One grid row as styled segments: the row label, then `ncols` cells from `first_col`."""
    label = grid.row_labels[row][: label_width - 1].ljust(label_width)
    selected_row = cursor is not None and cursor[0] == row
    segs = [Segment(label, Style(bold=selected_row))]
    for c in range(first_col, min(first_col + ncols, len(grid.cols))):
        cell = grid.cell(row, c)
        text = cell_text(cell)
        style = _MARK_STYLE.get(cell.state, Style())
        if cell.level:
            style = style + Style(color=LEVEL_COLOURS[cell.level - 1])
        if cursor == (row, c):
            style = style + Style(reverse=True, bold=True)
        segs.append(Segment(text, style))
        segs.append(Segment(" ", PLAIN))
    return segs


def short_name(name: str, width: int = CELL_WIDTH) -> str:
    """A column name in `width` characters: "decoder-server-poisson" -> "d-s-poiss" (the status line and the
    launcher give it in full)."""
    if len(name) <= width:
        return name
    parts = name.split("-")
    short = "-".join([p[:1] for p in parts[:-1]] + [parts[-1]])
    return short[: width - 1] + "…" if len(short) > width else short


def header_segments(grid: HeatGrid, first_col: int, ncols: int, label_width: int = LABEL_WIDTH) -> list[Segment]:
    segs = [Segment("host".ljust(label_width), Style(bold=True, underline=True))]
    for c in range(first_col, min(first_col + ncols, len(grid.cols))):
        segs.append(Segment(short_name(grid.cols[c]).center(CELL_WIDTH), Style(bold=True, underline=True)))
        segs.append(Segment(" ", PLAIN))
    return segs


class Heatmap(ScrollView, can_focus=True):
    """A HeatGrid on screen. Set `grid`; the cursor survives updates where its row and column still exist."""

    DEFAULT_CSS = """
    Heatmap { height: 1fr; min-height: 3; overflow-x: hidden; }
    Heatmap:focus { background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("enter", "open", "Open host"),
    ]

    class CellSelected(Message):
        """The cursor moved to a cell (or the grid changed under it)."""

        def __init__(self, row_key: str, profile: str, cell: HeatCell) -> None:
            super().__init__()
            self.row_key, self.profile, self.cell = row_key, profile, cell

    class Opened(Message):
        def __init__(self, row_key: str, profile: str, cell: HeatCell) -> None:
            super().__init__()
            self.row_key, self.profile, self.cell = row_key, profile, cell

    cursor: reactive[tuple[int, int]] = reactive((0, 0), always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.grid = HeatGrid(Metric("tokens_per_j", "tokens/J", "tok/J", True), [], [], [])
        self._first_col = 0

    def set_grid(self, grid: HeatGrid) -> None:
        key = self.selected_key()
        self.grid = grid
        row, col = self.cursor
        if key is not None and key[0] in grid.row_keys:
            row = grid.row_keys.index(key[0])
        if key is not None and key[1] in grid.cols:
            col = grid.cols.index(key[1])
        row = max(0, min(row, len(grid.row_keys) - 1))
        col = max(0, min(col, len(grid.cols) - 1))
        self.virtual_size = Size(self.size.width or 80, len(grid.row_keys) + 1)
        self.cursor = (row, col)
        self.refresh()

    def selected_key(self) -> tuple[str, str] | None:
        row, col = self.cursor
        if row < len(self.grid.row_keys) and col < len(self.grid.cols):
            return self.grid.row_keys[row], self.grid.cols[col]
        return None

    def _visible_cols(self) -> int:
        return max(1, (self.size.width - LABEL_WIDTH) // (CELL_WIDTH + 1))

    def watch_cursor(self, cursor: tuple[int, int]) -> None:
        row, col = cursor
        ncols = self._visible_cols()
        if col < self._first_col:
            self._first_col = col
        elif col >= self._first_col + ncols:
            self._first_col = col - ncols + 1
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False)
        elif row >= self.scroll_y + self.size.height - 1 > 0:
            self.scroll_to(y=row - self.size.height + 2, animate=False)
        key = self.selected_key()
        if key is not None:
            self.post_message(self.CellSelected(key[0], key[1], self.grid.cell(row, col)))
        self.refresh()

    def action_move(self, drow: int, dcol: int) -> None:
        if not self.grid.row_keys:
            return
        row, col = self.cursor
        self.cursor = (max(0, min(len(self.grid.row_keys) - 1, row + drow)),
                       max(0, min(max(len(self.grid.cols) - 1, 0), col + dcol)))

    def action_open(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(self.Opened(key[0], key[1], self.grid.cell(*self.cursor)))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        ncols = self._visible_cols()
        if not self.grid.row_keys:
            text = "no hosts yet" if y == 0 else ""
            return Strip([Segment(text.ljust(width), Style(dim=True))], width)
        if y == 0:
            return Strip(header_segments(self.grid, self._first_col, ncols)).adjust_cell_length(width, PLAIN)
        row = y - 1 + int(self.scroll_y)
        if row >= len(self.grid.row_keys):
            return Strip.blank(width, PLAIN)
        segs = row_segments(self.grid, row, self._first_col, ncols, self.cursor if self.has_focus else None)
        return Strip(segs).adjust_cell_length(width, PLAIN)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
