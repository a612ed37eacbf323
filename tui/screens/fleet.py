"""The fleet screen: the strip ("M of N hosts reporting", power by domain kind, fleet tokens/J per domain
kind, and a Prometheus source's own status line), the hosts table (task success and J/correct where runs
scored answers), and the heatmap with its legend. Sort, `/` filter, group by label, colour by another
metric; `a` opens the audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from wattfleet.tui.fleet.filterexpr import KNOWN_FIELDS, Filter, FilterError, parse_filter
from wattfleet.tui.fleet.heatmap import METRICS, STATE_MEANING, build_grid, compact
from wattfleet.tui.fleet.summary import SORT_KEYS, HostRow, fleet_strip, group_rows, host_row, label_keys, sort_rows
from wattfleet.tui.widgets.charts import legend
from wattfleet.tui.widgets.heatmap import Heatmap

if TYPE_CHECKING:
    from wattfleet.tui.app import WattfleetApp

COLUMNS = ("host", "state", "tok/J", "power", "tok/s", "valid", "device", "provider", "labels", "why")
SUCCESS_COLUMNS = ("success", "J/correct")  # after "valid", only when some run on screen scored answers
LEVEL_STYLE = {"ok": "", "warn": "yellow", "error": "bold red"}


def columns_for(rows: list[HostRow]) -> tuple[str, ...]:
    if not any(r.success_rate is not None or r.j_per_correct is not None for r in rows):
        return COLUMNS
    at = COLUMNS.index("valid") + 1
    return (*COLUMNS[:at], *SUCCESS_COLUMNS, *COLUMNS[at:])


def success_text(row: HostRow) -> str:
    """"93% (88-97)": the latest run's success rate with its 95% interval, "-" when it scored none."""
    if row.success_rate is None:
        return "-"
    ci = f" ({row.success_ci[0]:.0%}-{row.success_ci[1]:.0%})".replace("%-", "-") if row.success_ci else ""
    return f"{row.success_rate:.0%}{ci}"


def _power_cell(row: HostRow) -> str:
    if not row.power_by_kind:
        return "-"
    return " ".join(f"{k.split('-')[0]}:{w:.0f}W" for k, w in sorted(row.power_by_kind.items()))


def _row_cells(row: HostRow, columns: tuple[str, ...] = COLUMNS) -> tuple[Text, ...]:
    state = Text(row.state, style={"live": "green", "stale": "yellow", "error": "red", "unsupported": "red"}
                 .get(row.state, ""))
    tj = "-"
    if row.tokens_per_j is not None:
        tj = f"{compact(row.tokens_per_j)} [{row.tj_domain}]" + ("*" if row.tj_low_confidence else "")
    valid = "-" if row.valid is None else ("yes" if row.valid else "NO")
    labels = " ".join(f"{k}={v}" for k, v in sorted(row.labels.items()) if v != row.device)  # device: its column
    why = row.reason or row.validity_reason
    cells = {
        "host": Text(row.host, style="bold"), "state": state, "tok/J": Text(tj), "power": Text(_power_cell(row)),
        "tok/s": Text(compact(row.tokens_per_s)),
        "valid": Text(valid, style="" if row.valid is not False else "bold red"),
        "success": Text(success_text(row)),
        "J/correct": Text("-" if row.j_per_correct is None else f"{compact(row.j_per_correct)} J"),
        "device": Text(row.device[:24]), "provider": Text(row.provider), "labels": Text(labels, style="dim"),
        "why": Text(why[:60] + ("…" if len(why) > 60 else ""), "dim"),
    }
    return tuple(cells[c] for c in columns)


class FleetScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("R", "reverse", "Reverse", show=False),
        Binding("g", "group", "Group"),
        Binding("m", "metric", "Metric"),
        Binding("l", "launcher", "Launch"),
        Binding("p", "pareto", "Pareto"),
        Binding("a", "audit", "Audit"),
        Binding("escape", "back", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ready = False  # the app's tick redraws only mounted screens
        self.filter: Filter = parse_filter("")
        self.sort_key = "host"
        self.descending = False
        self.group_label: str | None = None
        self.metric = "tokens_per_j"
        self.rows: list[HostRow] = []
        self._table_keys: list[str] = []
        self._columns: tuple[str, ...] = ()
        self._status_set = False

    @property
    def wapp(self) -> WattfleetApp:
        return cast("WattfleetApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="strip")
        yield Static(id="source-status")
        yield Input(placeholder="filter: text, power>300, host~=edge, tokens_per_j<2 & rack=2  (Enter / Esc)",
                    id="filter")
        yield DataTable(id="hosts", cursor_type="row", zebra_stripes=True)
        yield Static(id="heat-title")
        yield Heatmap(id="heatmap")
        yield Static(id="legend")
        yield Static(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#hosts", DataTable)
        self.query_one("#filter", Input).display = False
        self.refresh_view()
        table.focus()
        self.ready = True

    # --- drawing -----------------------------------------------------------------------------------

    def visible_rows(self) -> list[HostRow]:
        rows = [host_row(h) for h in self.wapp.model.sorted_hosts()]
        rows = [r for r in rows if self.filter.matches(r.fields(), r.text())]
        rows = sort_rows(rows, self.sort_key, self.descending)
        if self.group_label:
            rows = [r for _g, group in group_rows(rows, self.group_label) for r in group]
        return rows

    def refresh_view(self) -> None:
        model = self.wapp.model
        strip = fleet_strip(model.hosts.values())
        self.query_one("#strip", Static).update(Text(strip.text(), style="bold"))
        sources = self.query_one("#source-status", Static)
        sources.display = bool(model.source_status)
        if model.source_status:
            line = Text()
            for name, status in sorted(model.source_status.items()):
                line.append(f"{name}: ", style="bold")
                line.append(status.message + "  ", style=LEVEL_STYLE[status.level])
            sources.update(line)
        self.rows = self.visible_rows()
        self._fill_table()
        hosts = [model.hosts[r.key] for r in self.rows]
        grid = build_grid(hosts, self.metric)
        self.query_one("#heatmap", Heatmap).set_grid(grid)
        sort = f"sort {self.sort_key}{' desc' if self.descending else ''}"
        group = f" · group {self.group_label}" if self.group_label else ""
        shown = f" · {len(self.rows)} of {len(model.hosts)} shown (filter {self.filter.source!r})" if (
            self.filter.terms) else ""
        title = Text(f"{METRICS[self.metric].label} by host × profile · {sort}{group}{shown}", style="bold")
        kinds = grid.domain_kinds()
        if len(kinds) > 1:  # one colour scale, figures of several domains: compare within one (METRICS.md)
            title.append(f" · domains {', '.join(kinds)}: compare within one", style="italic")
        self.query_one("#heat-title", Static).update(title)
        self.query_one("#legend", Static).update(legend(grid))
        if not self._status_set and model.notes:
            self.set_status(model.notes[-1])

    def _fill_table(self) -> None:
        table = self.query_one("#hosts", DataTable)
        selected = self._table_keys[table.cursor_row] if 0 <= table.cursor_row < len(self._table_keys) else None
        columns = columns_for(self.rows)
        if columns != self._columns:
            table.clear(columns=True)
            for name in columns:
                table.add_column(name, key=name)
            self._columns = columns
        table.clear()
        keys: list[str] = []
        groups = group_rows(self.rows, self.group_label) if self.group_label else [("", self.rows)]
        for name, rows in groups:
            if self.group_label:
                table.add_row(Text(f"── {self.group_label}={name}" if not name.startswith("(") else f"── {name}",
                                   style="bold italic"), *([""] * (len(columns) - 1)), key=f"group:{name}")
                keys.append(f"group:{name}")
            for row in rows:
                table.add_row(*_row_cells(row, columns), key=row.key)
                keys.append(row.key)
        self._table_keys = keys
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)

    def set_status(self, text: str | Text) -> None:
        self._status_set = True
        self.query_one("#status", Static).update(text)

    # --- events ------------------------------------------------------------------------------------

    def on_heatmap_cell_selected(self, event: Heatmap.CellSelected) -> None:
        host = self.wapp.model.hosts.get(event.row_key)
        label = host.label if host else event.row_key
        cell = event.cell
        text = Text(f"{label} · {event.profile}: ", style="bold")
        text.append(f"{compact(cell.value)} {METRICS[self.metric].unit} " if cell.value is not None else "")
        text.append(f"[{STATE_MEANING[cell.state].split(' (')[0]}] ", style="italic")
        text.append(cell.reason)
        self.set_status(text)

    def on_heatmap_opened(self, event: Heatmap.Opened) -> None:
        self.wapp.open_host(event.row_key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if not key.startswith("group:"):
            self.wapp.open_host(key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        host = self.wapp.model.hosts.get(str(event.row_key.value))
        if host is not None and host.reason:
            self.set_status(Text(f"{host.label}: {host.status}: {host.reason}"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value)
        event.input.display = False
        self.query_one("#hosts", DataTable).focus()

    def apply_filter(self, text: str) -> bool:
        try:
            parsed = parse_filter(text)
        except FilterError as exc:
            self.set_status(Text(str(exc), style="bold red"))
            return False
        self.filter = parsed
        known = set(KNOWN_FIELDS) | {k for r in (host_row(h) for h in self.wapp.model.hosts.values())
                                     for k in r.fields()}
        unknown = parsed.unknown_fields(known)
        self.set_status(Text(f"unknown field {', '.join(unknown)}: no host has it (see ? for the fields)",
                             style="yellow") if unknown else f"filter: {text or '(none)'}")
        self.refresh_view()
        return True

    # --- actions -----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        """Filter hosts by text or expression (power>300, host~=edge, a & b)."""
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.filter.source
        box.focus()

    def action_back(self) -> None:
        """Close the filter box, or clear the filter."""
        box = self.query_one("#filter", Input)
        if box.display:
            box.display = False
            self.query_one("#hosts", DataTable).focus()
        elif self.filter.terms:
            self.apply_filter("")

    def action_sort(self) -> None:
        """Sort hosts by the next key (host, power, tokens/J, tokens/s, state)."""
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.descending = self.sort_key in ("power", "tokens_per_j", "tokens_per_s")
        self.refresh_view()

    def action_reverse(self) -> None:
        """Reverse the sort order."""
        self.descending = not self.descending
        self.refresh_view()

    def action_group(self) -> None:
        """Group hosts by the next label (none, then each label in turn)."""
        keys = label_keys(host_row(h) for h in self.wapp.model.hosts.values())
        options: list[str | None] = [None, *keys]
        at = options.index(self.group_label) if self.group_label in options else 0
        self.group_label = options[(at + 1) % len(options)]
        self.set_status(f"group by {self.group_label}" if self.group_label else "no grouping")
        self.refresh_view()

    def set_metric(self, name: str) -> None:
        self.metric = name
        self.refresh_view()

    def action_metric(self) -> None:
        """Colour the heatmap by the next metric (tokens/J, J/token, J per correct answer, ...)."""
        names = list(METRICS)
        self.set_metric(names[(names.index(self.metric) + 1) % len(names)])

    def action_launcher(self) -> None:
        """Start a profile on the hosts shown."""
        self.wapp.open_launcher([r.key for r in self.rows])

    def action_pareto(self) -> None:
        """Tokens/J against p99 latency for the runs shown, frontier marked."""
        self.wapp.open_pareto([r.key for r in self.rows])

    def action_audit(self) -> None:
        """The power-budget audit of the runs shown (and a Prometheus range): where the watts go, what fits."""
        self.wapp.open_audit([r.key for r in self.rows])
