"""The audit screen: the power-budget audit of the runs on screen (and a Prometheus range, when the console
reads one), from the same `run_audit` as `wattfleet audit`, run in a worker thread. Five panes: where the
watts go (per host and domain, totals per domain key, estimates apart), the budget's headroom, tokens/J per
profile with task success beside it, outliers with their evidence, and the allocation (the setting chosen
per host, total tokens/s and watts, slack, what the next watt buys). It proposes; applying is the
operator's: the screen changes no power limit and starts nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from wattfleet.core.model import RunRecord
from wattfleet.tui.fleet.audit.report_md import fmt
from wattfleet.tui.fleet.audit_console import (
    APPLY_NOTE,
    AuditOutcome,
    ConsoleAudit,
    Table,
    allocation_lines,
    allocation_table,
    audit_outcome,
    budget_notes,
    budget_table,
    efficiency_table,
    outliers_table,
    summary,
    totals_table,
    watts_table,
)

if TYPE_CHECKING:
    from wattfleet.tui.app import WattfleetApp

PANES = (("watts", "1 where the watts go"), ("budget", "2 budget"), ("efficiency", "3 tokens/J"),
         ("outliers", "4 outliers"), ("allocation", "5 allocation"))
NUMERIC = {"windows", "avg W", "p95 W", "peak W", "hosts", "sum of avg W", "sum of p95 W", "sum of peaks W (bound)",
           "W", "headroom W", "sum of peaks W", "peak headroom W", "tokens/J", "J/token", "tok/s", "J/correct",
           "correct/s", "peers' median", "z"}


def fill(table: DataTable[str | Text], content: Table, empty: str) -> None:
    """Replace a table's columns and rows; numbers right-aligned, a dim line when there is nothing."""
    header, rows = content
    table.clear(columns=True)
    for name in header:  # Text, never a str: DataTable reads strings as markup ("[gpu-board]" would vanish)
        table.add_column(Text(name), key=name)
    if not rows:
        table.add_row(Text(empty, style="dim"), *([""] * (len(header) - 1)))
        return
    for row in rows:
        table.add_row(*(Text(cell, justify="right" if name in NUMERIC or name.startswith("W [") else "left")
                        for name, cell in zip(header, row, strict=True)))


class AuditScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "rerun", "Re-run audit"),
        *(Binding(str(i + 1), f"pane('{name}')", label.split(" ", 1)[1], show=False)
          for i, (name, label) in enumerate(PANES)),
    ]

    def __init__(self, keys: list[str] | None = None) -> None:
        super().__init__()
        self.ready = False  # the app's tick redraws only mounted screens
        self.keys = keys  # the hosts of the fleet screen's filter (an empty filter audits nothing); None: all
        self.outcome: AuditOutcome | None = None
        self.running = False
        self._audited = 0  # run records the shown audit read

    @property
    def wapp(self) -> WattfleetApp:
        return cast("WattfleetApp", self.app)

    @property
    def settings(self) -> ConsoleAudit:
        return self.wapp.audit

    def compose(self) -> ComposeResult:
        yield Static(id="audit-title")
        yield Static(id="audit-status")
        with TabbedContent(id="audit-panes"):
            with TabPane(PANES[0][1], id="watts"):
                yield Static(id="watts-notes", classes="audit-notes")
                yield DataTable(id="totals-table", classes="audit-small", cursor_type="none")
                yield DataTable(id="watts-table", classes="audit-table", cursor_type="row", zebra_stripes=True)
            with TabPane(PANES[1][1], id="budget"):
                yield Static(id="budget-notes", classes="audit-notes")
                yield DataTable(id="budget-table", classes="audit-table", cursor_type="row")
            with TabPane(PANES[2][1], id="efficiency"):
                yield Static(id="efficiency-notes", classes="audit-notes")
                yield DataTable(id="efficiency-table", classes="audit-table", cursor_type="row", zebra_stripes=True)
            with TabPane(PANES[3][1], id="outliers"):
                yield Static(id="outliers-notes", classes="audit-notes")
                yield DataTable(id="outliers-table", classes="audit-table", cursor_type="row")
                yield Static(id="outliers-detail", classes="audit-notes")
            with TabPane(PANES[4][1], id="allocation"), VerticalScroll(id="allocation-body"):
                yield Static(id="allocation-notes", classes="audit-notes")
        yield Footer()

    def on_mount(self) -> None:
        self._title()
        self.rerun()
        self.ready = True

    # --- the audit, in a worker thread -----------------------------------------------------------------

    def _records(self) -> list[RunRecord]:
        return self.wapp.model.records(self.keys)

    def rerun(self) -> None:
        records = self._records()
        self.running = True
        self._audited = len(records)
        where = f" and Prometheus's last {self.settings.range_text}" if self.settings.prometheus_url else ""
        self._status(Text(f"auditing {len(records)} run(s) on screen{where}...", style="italic"))
        self._audit(records, self.settings)

    @work(thread=True, exclusive=True, group="audit", exit_on_error=False)
    def _audit(self, records: list[RunRecord], settings: ConsoleAudit) -> None:
        outcome = audit_outcome(records, settings)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, outcome)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "audit" and event.state == WorkerState.ERROR:
            self.running = False
            self._status(Text(f"the audit failed: {event.worker.error!r}", style="bold red"))

    # --- drawing -----------------------------------------------------------------------------------

    def _title(self) -> None:
        text = Text("audit", style="bold")
        if self.outcome is not None:
            text.append(" · " + summary(self.outcome, self.settings))
        text.append("\n" + APPLY_NOTE, style="italic")
        self.query_one("#audit-title", Static).update(text)

    def _status(self, text: Text | str) -> None:
        self.query_one("#audit-status", Static).update(text)

    def _note(self, name: str, lines: list[str]) -> None:
        self.query_one(f"#{name}-notes", Static).update(Text("\n".join(lines)))  # Text: "[gpu-board]" is no markup

    def show(self, outcome: AuditOutcome) -> None:
        """Draw one audit's outcome in every pane."""
        self.outcome = outcome
        self.running = False
        self._title()
        problems = Text(" · ".join(outcome.problems), style="bold yellow") if outcome.problems else Text(
            "1-5 panes · r re-runs the audit on what is on screen now · Esc back", style="dim")
        self._status(problems)
        report = outcome.report
        self.query_one("#allocation-body", VerticalScroll).remove_children(".allocation")
        if report is None:
            for name, _label in PANES:
                self._note(name, ["nothing audited"])
            return
        self._note("watts", [*report.notes, report.rules["domains"] + "."])
        fill(self.query_one("#totals-table", DataTable), totals_table(report), "no power figure in these runs")
        fill(self.query_one("#watts-table", DataTable), watts_table(report), "no power figure in these runs")
        self._note("budget", budget_notes(report))
        fill(self.query_one("#budget-table", DataTable), budget_table(report), "no budget")
        eff = ["tokens/J pooled over each host's runs in its headline domain (valid runs where it has any)."]
        if report.best_success_low:
            eff.append("Task success: the worst run's rate [95% CI]; ANSWERS WORSE: the CI lies below the best "
                       "lower bound (" + ", ".join(f"{p} {v:.2f}" for p, v in sorted(report.best_success_low.items()))
                       + ").")
        self._note("efficiency", eff)
        fill(self.query_one("#efficiency-table", DataTable), efficiency_table(report), "no run")
        self._note("outliers", [f"Rule: {report.rules['outliers']}."])
        fill(self.query_one("#outliers-table", DataTable), outliers_table(report), "no outlier among peers")
        self._outlier_detail(0)
        self._note("allocation", [f"SLO: {report.slo}. {APPLY_NOTE}", *([report.allocation_note]
                                                                      if report.allocation_note else [])])
        body = self.query_one("#allocation-body", VerticalScroll)
        for a in report.allocations:
            table: DataTable[str | Text] = DataTable(classes="allocation audit-choices", cursor_type="none",
                                                     zebra_stripes=True)
            body.mount(Static(Text("\n".join(allocation_lines(a))), classes="allocation audit-alloc"), table)
            fill(table, allocation_table(a), "no host eligible")

    def _outlier_detail(self, row: int) -> None:
        report = self.outcome.report if self.outcome is not None else None
        detail = self.query_one("#outliers-detail", Static)
        if report is None or not 0 <= row < len(report.outliers):
            detail.update("")
            return
        o = report.outliers[row]
        detail.update(Text(f"{o.host} · {o.profile}: {fmt(o.tokens_per_j)} tok/J against {o.n_peers} peers' "
                           f"median {fmt(o.peer_median)} [{o.domain}]; evidence: " + "; ".join(o.evidence)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "outliers-table":
            self._outlier_detail(event.cursor_row)

    def refresh_view(self) -> None:
        """On the app's tick when the fleet changed: say so when new runs arrived since this audit."""
        if self.running or self.outcome is None:
            return
        new = len(self._records()) - self._audited
        if new > 0:
            self._status(Text(f"{new} run(s) arrived since this audit: r re-runs it", style="yellow"))

    # --- actions -----------------------------------------------------------------------------------

    def action_rerun(self) -> None:
        """Re-run the audit on the runs on screen now."""
        self.rerun()

    def action_pane(self, name: str) -> None:
        """Show one pane: 1 watts, 2 budget, 3 tokens/J, 4 outliers, 5 allocation."""
        self.query_one("#audit-panes", TabbedContent).active = name

    def action_back(self) -> None:
        """Back to the fleet."""
        self.app.pop_screen()
