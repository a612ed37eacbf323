"""Host detail: live power per domain, ITL over time and the TTFT distribution, the percentile table with
each figure's definition, the latest run's task success and joules per correct answer (where it scored
answers), device facts and working providers, and the run history from the agent's journal (Enter opens a
run's full record)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import RunRecord
from wattfleet.tui.fleet.heatmap import compact
from wattfleet.tui.fleet.model import HostView, profile_name
from wattfleet.tui.widgets.charts import histogram_chart, line_chart, power_chart

if TYPE_CHECKING:
    from wattfleet.tui.app import WattfleetApp

PERCENTILE_METRICS = ("ttft", "tpot", "itl", "e2el")
PERCENTILES = ("mean", "p50", "p90", "p99", "p99.9")
MAX_POINTS = 2000


def record_series(record: RunRecord) -> tuple[list[tuple[float, float]], list[float]]:
    """ITL points (s since the window's start, ms) and TTFT values (ms) from a full record's queries."""
    t0 = record.window.t0_ns or min((q.issued_ns for q in record.queries), default=0)
    itl: list[tuple[float, float]] = []
    ttft: list[float] = []
    for q in record.queries:
        if q.warmup or not q.token_ns:
            continue
        ttft.append((q.token_ns[0] - q.scheduled_ns) / 1e6)
        itl += [((b - t0) / 1e9, (b - a) / 1e6) for a, b in zip(q.token_ns, q.token_ns[1:], strict=False)]
    step = max(1, len(itl) // MAX_POINTS)
    return itl[::step], ttft


def task_text(record: RunRecord) -> Text | None:
    """The run's task success with its interval, J per correct answer in its headline domain and correct
    answers per second; None when the run scored no answer."""
    task = record.task
    rate = task.success_rate if task is not None else None
    if rate is None:
        f = record.figure("success_rate")
        rate = f.value if f is not None else None
    if task is None and rate is None:
        return None
    text = Text()
    text.append(f"{profile_name(record)} ({record.run_id}): ", style="bold")
    if task is not None:
        text.append(f"{task.correct} of {task.items} answers correct ({task.scorer})")
    if rate is not None:
        text.append(f", success {rate:.1%}" if task is not None else f"success {rate:.1%}")
    if task is not None and task.ci_low is not None and task.ci_high is not None:
        text.append(f", 95% CI {task.ci_low:.1%} to {task.ci_high:.1%}")
    jpc = record.headline("j_per_correct")
    if jpc is not None and jpc.value is not None:
        text.append(f" · {compact(jpc.value)} J per correct answer [{jpc.domain}]")
    cps = record.figure("correct_per_s")
    if cps is not None and cps.value is not None:
        text.append(f" · {compact(cps.value)} correct/s")
    return text


def facts(host: HostView) -> Text:
    text = Text()
    info = host.info
    if info is None:
        text.append("no GetInfo answer" if host.source != "records" else "saved records only (no agent)", "dim")
        latest = host.latest
        if latest is not None:
            env = latest.environment
            text.append(f"\nlast run: provider {env.get('provider_used', '?')}, device {host.device or '?'}")
        return text
    text.append(f"{info.hostname} · agent {info.agent_version} · {info.platform}\n")
    for d in info.devices:
        limit = f", limit {d.power_limit_w:.0f} W" if d.power_limit_w else ""
        text.append(f"device {d.selector}: {d.name}{limit}\n")
    works = [p.name.replace("ExecutionProvider", "") for p in info.execution_providers if p.works]
    fails = [p.name.replace("ExecutionProvider", "") for p in info.execution_providers if not p.works]
    text.append(f"providers that work: {', '.join(works) or 'none probed'}")
    text.append(f"; fail: {', '.join(fails)}\n" if fails else "\n")
    for s in info.power_sources:
        state = "" if s.available else " (not found)"
        text.append(f"power {s.name}{state}: {', '.join(s.domains) or '-'}\n", "" if s.available else "dim")
    if info.tdp_w:
        text.append(f"estimated domain: CPU utilisation x TDP {info.tdp_w:g} W (a model, not a measurement)\n",
                    "italic")
    return text


class HostScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("o", "open_record", "Open record"),
        Binding("l", "launcher", "Launch run"),
    ]
    ALWAYS_REFRESH = True

    def __init__(self, key: str) -> None:
        super().__init__()
        self.ready = False  # the app's tick redraws only mounted screens
        self.key = key
        self._fetched: set[str] = set()
        self._full: dict[str, RunRecord] = {}
        self._history_ids: list[str] = []

    @property
    def wapp(self) -> WattfleetApp:
        return cast("WattfleetApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="host-title")
        with VerticalScroll(id="host-body"):
            with Horizontal(id="charts"):
                yield Static(id="power-chart", classes="chart")
                yield Static(id="itl-chart", classes="chart")
                yield Static(id="ttft-chart", classes="chart")
            yield Static("percentiles (ms) of the latest run · definitions as METRICS.md", classes="section")
            yield DataTable(id="percentiles", cursor_type="none")
            yield Static("task success of the latest run", classes="section", id="task-title")
            yield Static(id="task")
            yield Static("device, providers and power sources", classes="section")
            yield Static(id="facts")
            yield Static("run history (journal) · Enter or o opens a run's full record", classes="section")
            yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#percentiles", DataTable)
        for name in ("metric", *PERCENTILES, "definition"):
            table.add_column(name, key=name)
        history = self.query_one("#history", DataTable)
        for name in ("run", "profile", "state", "tok/J", "valid", "ttft p99 ms", "success", "J/correct"):
            history.add_column(name, key=name)
        self.refresh_view()
        history.focus(scroll_visible=False)  # the charts stay on top; the table still takes Enter
        self.ready = True

    @property
    def host(self) -> HostView | None:
        return self.wapp.model.hosts.get(self.key)

    def refresh_view(self) -> None:
        host = self.host
        if host is None:
            return
        title = Text(f"{host.label}", style="bold")
        title.append(f" · {host.status}" + (f" ({host.reason})" if host.reason else ""))
        title.append(f" · {host.target or host.source}", style="dim")
        if host.labels:
            title.append("  " + " ".join(f"{k}={v}" for k, v in sorted(host.labels.items())), style="dim")
        self.query_one("#host-title", Static).update(title)
        full = self.size.width or 80
        narrow = full < 120
        self.query_one("#charts").styles.layout = "vertical" if narrow else "horizontal"
        width = full - 4 if narrow else max(24, full // 3 - 2)
        self.query_one("#power-chart", Static).update(
            Text("power per domain (W), live\n", style="bold") + power_chart(host.history, width, host.reporting))
        itl, ttft, where = self._latency(host)
        self.query_one("#itl-chart", Static).update(
            Text("ITL over time (ms)", style="bold") + Text(f" {where}\n", style="dim")
            + line_chart(itl, width, 4 if narrow else 5, "ms", "s"))
        self.query_one("#ttft-chart", Static).update(
            Text("TTFT distribution (ms)", style="bold") + Text(f" {where}\n", style="dim")
            + histogram_chart(ttft, width, 4 if narrow else 5, "ms"))
        self._fill_percentiles(host)
        task = task_text(host.latest) if host.latest is not None else None
        for name in ("#task-title", "#task"):
            self.query_one(name).display = task is not None
        if task is not None:
            self.query_one("#task", Static).update(task)
        self.query_one("#facts", Static).update(facts(host))
        self._fill_history(host)

    def _latency(self, host: HostView) -> tuple[list[tuple[float, float]], list[float], str]:
        live = self.wapp.live
        conn = live.connections.get(self.key) if live is not None else None
        if host.live_run is not None and conn is not None:
            trace = conn.traces.get(host.live_run.run_id)
            if trace is not None:
                return list(trace.itl), list(trace.ttft), f"live, {host.live_run.profile}"
        latest = host.latest
        if latest is None:
            return [], [], "no run yet"
        full = self._full.get(latest.run_id) or (latest if latest.queries else None)
        if full is None:
            self._fetch(latest.run_id)
            return [], [], f"{profile_name(latest)}, fetching"
        itl, ttft = record_series(full)
        return itl, ttft, f"latest run, {profile_name(latest)}"

    @work(group="fetch", exit_on_error=False)
    async def _fetch(self, run_id: str) -> None:
        if run_id in self._fetched:
            return
        self._fetched.add(run_id)
        try:
            record = await self.wapp.fetch_record(self.key, run_id)
        except WattfleetError as exc:
            self.notify(f"could not fetch run {run_id}: {exc}", severity="warning")
            return
        if record is not None:
            self._full[run_id] = record
            self.refresh_view()

    def _fill_percentiles(self, host: HostView) -> None:
        table = self.query_one("#percentiles", DataTable)
        table.clear()
        latest = host.latest
        if latest is None:
            return
        for metric in PERCENTILE_METRICS:
            figs = [latest.figure(f"{metric}_{p}") for p in PERCENTILES]
            if not any(figs):
                continue
            cells = [f"{compact(f.value)}{'*' if f.low_confidence else ''}" if f and f.value is not None else "-"
                     for f in figs]
            definition = next((f.definition for f in figs if f and f.definition), "")
            table.add_row(metric, *cells, Text(definition, style="dim"))

    def _fill_history(self, host: HostView) -> None:
        table = self.query_one("#history", DataTable)
        ids = [r.run_id for r in host.runs]
        if ids == self._history_ids and table.row_count:
            return
        cursor = table.cursor_row
        table.clear()
        for r in host.runs:
            tj = r.headline("tokens_per_j")
            ttft = r.figure("ttft_p99")
            rate = r.task.success_rate if r.task is not None else None
            jpc = r.headline("j_per_correct")
            table.add_row(Text(r.run_id), Text(profile_name(r)), Text(r.state),
                          Text(f"{compact(tj.value)} [{tj.domain}]" if tj and tj.value is not None else "-"),
                          Text("yes" if r.validity.valid else "NO"), Text(compact(ttft.value if ttft else None)),
                          Text("-" if rate is None else f"{rate:.0%}"),
                          Text("-" if jpc is None or jpc.value is None else f"{compact(jpc.value)} J"), key=r.run_id)
        self._history_ids = ids
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "history":
            self.wapp.open_record(self.key, str(event.row_key.value))

    def action_open_record(self) -> None:
        """Open the selected run's full record."""
        table = self.query_one("#history", DataTable)
        if 0 <= table.cursor_row < len(self._history_ids):
            self.wapp.open_record(self.key, self._history_ids[table.cursor_row])

    def action_back(self) -> None:
        """Back to the fleet."""
        self.app.pop_screen()

    def action_launcher(self) -> None:
        """Start a profile on this host."""
        self.wapp.open_launcher([self.key])
