"""One run's full record: what ran, validity and its reasons, energy per domain (headline first), every
figure with its unit, domain and definition, and the environment that moves the numbers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import RunRecord
from wattfleet.tui.fleet.model import profile_name

if TYPE_CHECKING:
    from wattfleet.tui.app import WattfleetApp


def summary_text(r: RunRecord) -> Text:
    text = Text()
    text.append(f"run {r.run_id}", style="bold")
    text.append(f" · {profile_name(r)} · {r.scenario or '-'} · host {r.host_id or '-'} · device {r.device or '-'}\n")
    text.append(f"state {r.state}" + (f": {r.error}" if r.error else ""), style="bold red" if r.error else "")
    text.append(f" · window {r.window.duration_s:.2f} s ended by {r.window.ended_by or '-'} · "
                f"{len(r.queries)} queries in this record\n")
    v = r.validity
    text.append("valid" if v.valid else "NOT VALID", style="bold green" if v.valid else "bold red")
    text.append(f" · {v.queries} queries · {v.duration_s:.2f} s · percentiles: {v.percentile_method}")
    if v.low_confidence:
        text.append(" · low confidence", style="italic")
    for reason in v.reasons:
        text.append(f"\n  - {reason}", style="red")
    if v.early_stopping is not None:
        es = v.early_stopping
        text.append(f"\n  early stopping: p{es.percentile:g} {es.metric} at {es.confidence:.0%} confidence "
                    f"({es.queries} queries): {'met' if es.met else 'not met'}")
    if r.host_cpu is not None:
        h = r.host_cpu
        text.append(f"\nhost CPU {h.host_util_pct or 0:.0f}% · agent's share {h.agent_share_pct or 0:.0f}%"
                    + (" · CONTENDED" if h.contended else "") + (f" · TDP {h.tdp_w:g} W" if h.tdp_w else ""))
    if r.task is not None:
        t = r.task
        text.append(f"\ntask success ({t.scorer}): {t.correct}/{t.items}"
                    + (f" = {t.success_rate:.1%}" if t.success_rate is not None else "")
                    + (f" (95% CI {t.ci_low:.1%} to {t.ci_high:.1%})" if t.ci_low is not None and t.ci_high is not None
                       else ""))
        jpc = r.headline("j_per_correct")
        if jpc is not None and jpc.value is not None:
            text.append(f" · {jpc.value:.4g} J per correct answer [{jpc.domain}]")
    if r.quality:
        text.append(f"\nquality: {r.quality.get('detail', json.dumps(r.quality)[:200])}",
                    style="bold red" if r.quality.get("flagged") else "")
    return text


def environment_text(r: RunRecord) -> Text:
    env = r.environment
    keep = ("provider_used", "provider_requested", "fell_back", "fallback_reason", "precision", "threads",
            "versions", "device", "model", "cold_start")
    text = Text()
    for key in keep:
        if key in env and env[key] not in ("", None, {}):
            value = env[key]
            shown = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
            text.append(f"{key}: ", style="bold")
            text.append(shown[:300] + "\n")
    return text or Text("no environment in this record (a summary; the agent's full record was not fetched)", "dim")


class RecordScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, key: str, run_id: str) -> None:
        super().__init__()
        self.key = key
        self.run_id = run_id
        self.record: RunRecord | None = None

    @property
    def wapp(self) -> WattfleetApp:
        return cast("WattfleetApp", self.app)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="record-body"):
            yield Static(id="record-summary")
            yield Static("energy per domain (headline first)", classes="section")
            yield DataTable(id="energy", cursor_type="none")
            yield Static("figures · * low confidence", classes="section")
            yield DataTable(id="figures", cursor_type="row")
            yield Static("environment", classes="section")
            yield Static(id="environment")
        yield Footer()

    def on_mount(self) -> None:
        energy = self.query_one("#energy", DataTable)
        for name in ("domain", "J", "avg W", "peak W", "method", "samples", "notes"):
            energy.add_column(name, key=name)
        figures = self.query_one("#figures", DataTable)
        for name in ("figure", "value", "unit", "domain", "definition"):
            figures.add_column(name, key=name)
        self.query_one("#record-summary", Static).update(Text(f"loading run {self.run_id} ...", style="dim"))
        self.load()

    @work(exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        try:
            record = await self.wapp.fetch_record(self.key, self.run_id)
        except WattfleetError as exc:
            self.query_one("#record-summary", Static).update(Text(f"could not fetch run {self.run_id}: {exc}",
                                                                  style="bold red"))
            return
        if record is None:
            self.query_one("#record-summary", Static).update(Text(f"run {self.run_id} is not known here", "red"))
            return
        self.record = record
        self.show(record)

    def show(self, r: RunRecord) -> None:
        self.query_one("#record-summary", Static).update(summary_text(r))
        energy = self.query_one("#energy", DataTable)
        energy.clear()
        for e in r.energy:
            mark = " (headline)" if e.headline else ""
            mark += " shared" if e.shared else ""
            energy.add_row(e.domain + mark, _num(e.energy_j), _num(e.power_avg_w), _num(e.power_peak_w),
                           e.method, f"{e.n_samples} @ {e.sample_rate_hz:.1f} Hz",
                           Text(("LOW CONFIDENCE: " if e.low_confidence else "") + "; ".join(e.notes), style="dim"))
        figures = self.query_one("#figures", DataTable)
        figures.clear()
        for f in r.figures:
            value = "-" if f.value is None else f"{f.value:.4g}{'*' if f.low_confidence else ''}"
            figures.add_row(f.name, value, f.unit, f.domain or "", Text(f.definition, style="dim"))
        self.query_one("#environment", Static).update(environment_text(r))

    def action_back(self) -> None:
        """Back."""
        self.app.pop_screen()


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"
