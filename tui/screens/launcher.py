"""The run launcher: pick a profile (the agents' own, or a local .toml file), pick hosts (or all in the
current filter), give overrides, start it fleet-wide, follow each host, cancel one or all. Results land
in the heatmap as hosts finish; each host keeps its record."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from wattfleet.core.errors import UsageError
from wattfleet.core.model import RunSpec
from wattfleet.tui.fleet.heatmap import compact

if TYPE_CHECKING:
    from wattfleet.tui.app import WattfleetApp


def parse_overrides(text: str) -> dict[str, str]:
    """`load.min_duration_s=2, runtime.intra_op_threads=2` -> a dict; UsageError names a bad item."""
    out: dict[str, str] = {}
    for item in (p.strip() for p in text.replace(";", ",").split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"override {item!r}: expected KEY=VALUE, e.g. load.min_duration_s=2")
        out[key.strip()] = value.strip()
    return out


def progress_bar(fraction: float, width: int = 10) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled) + f" {fraction:4.0%}"


class LauncherScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "start", "Start run"),
        Binding("a", "select_all", "All in filter"),
        Binding("n", "select_none", "None"),
        Binding("c", "cancel_one", "Cancel host"),
        Binding("C", "cancel_all", "Cancel all"),
        Binding("escape", "back", "Back"),
    ]
    ALWAYS_REFRESH = True

    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.ready = False  # the app's tick redraws only mounted screens
        self.keys = keys  # the hosts of the current filter, in screen order
        self._profiles: list[tuple[str, RunSpec | None, Path | None]] = []

    @property
    def wapp(self) -> WattfleetApp:
        return cast("WattfleetApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="launch-title")
        with Horizontal(id="launch-top"):
            with Vertical(classes="launch-col"):
                yield Static("profile (Enter picks)", classes="section")
                yield OptionList(id="launch-profiles")
            with Vertical(classes="launch-col"):
                yield Static("hosts (Space toggles; a all in filter, n none)", classes="section")
                yield SelectionList[str](id="launch-hosts")
        yield Input(placeholder="overrides: load.min_duration_s=2, runtime.intra_op_threads=2", id="overrides")
        yield Static("progress per host (c cancels the selected host, C all)", classes="section")
        yield DataTable(id="progress", cursor_type="row")
        yield Static(id="launch-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#progress", DataTable)
        for name in ("host", "state", "progress", "run", "tok/J", "record / error"):
            table.add_column(name, key=name)
        self._fill_profiles()
        hosts = self.query_one("#launch-hosts", SelectionList)
        model = self.wapp.model
        for key in self.keys:
            host = model.hosts.get(key)
            if host is None or host.source == "records":
                continue
            hosts.add_option((f"{host.label} ({host.status})", key, host.reporting))
        if self.wapp.live is None:
            self.set_status("saved records only: no agent to run on (start the console without --records)")
        self.refresh_view()
        self.query_one("#launch-profiles", OptionList).focus()
        self.ready = True

    def _fill_profiles(self) -> None:
        names: dict[str, int] = {}
        for host in self.wapp.model.hosts.values():
            for p in host.profiles:
                names[p.name] = names.get(p.name, 0) + 1
        options = self.query_one("#launch-profiles", OptionList)
        self._profiles = []
        for name in sorted(names):
            self._profiles.append((name, RunSpec(profile=name), None))
            options.add_option(Option(f"{name}  ({names[name]} hosts)"))
        for path in self.wapp.profile_files:
            self._profiles.append((path.name, None, path))
            options.add_option(Option(f"{path.name}  (local file)"))
        if not self._profiles:
            options.add_option(Option("no profiles yet (agents not connected)", disabled=True))
        else:
            options.highlighted = 0

    def set_status(self, text: str | Text) -> None:
        self.query_one("#launch-status", Static).update(text)

    def refresh_view(self) -> None:
        run = self.wapp.fleet_run
        title = Text("launch a run", style="bold")
        if run is not None:
            finished = sum(1 for h in run.hosts.values() if h.ended)
            title.append(f" · last run: {finished} of {len(run.hosts)} hosts finished")
        self.query_one("#launch-title", Static).update(title)
        table = self.query_one("#progress", DataTable)
        cursor = table.cursor_row
        table.clear()
        if run is None:
            return
        for h in run.hosts.values():
            tj = h.record.headline("tokens_per_j") if h.record is not None else None
            tj_text = f"{compact(tj.value)} [{tj.domain}]" if tj is not None and tj.value is not None else "-"
            table.add_row(h.label, h.state, progress_bar(h.fraction), h.run_id or "-", Text(tj_text),
                          Text(h.error, style="red") if h.error else h.record_path or "", key=h.key)
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor, animate=False)

    def _spec(self) -> RunSpec:
        index = self.query_one("#launch-profiles", OptionList).highlighted
        if index is None or index >= len(self._profiles):
            raise UsageError("pick a profile first")
        name, spec, path = self._profiles[index]
        overrides = parse_overrides(self.query_one("#overrides", Input).value)
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot read profile file {path}: {exc.strerror or exc}") from exc
            return RunSpec(profile_toml=text, overrides=overrides, labels={"via": "console"})
        assert spec is not None
        return RunSpec(profile=name, overrides=overrides, labels={"via": "console"})

    def action_start(self) -> None:
        """Start the profile on the selected hosts."""
        try:
            spec = self._spec()
        except UsageError as exc:
            self.set_status(Text(str(exc), style="bold red"))
            return
        keys = list(self.query_one("#launch-hosts", SelectionList).selected)
        if not keys:
            self.set_status(Text("select at least one host (Space, or a for all in the filter)", style="bold red"))
            return
        self.set_status(self.wapp.start_fleet_run({k: spec for k in keys}))
        self.query_one("#progress", DataTable).focus()

    def action_select_all(self) -> None:
        """Select every host of the current filter."""
        self.query_one("#launch-hosts", SelectionList).select_all()

    def action_select_none(self) -> None:
        """Select no host."""
        self.query_one("#launch-hosts", SelectionList).deselect_all()

    async def action_cancel_one(self) -> None:
        """Cancel the run on the selected host."""
        run = self.wapp.fleet_run
        table = self.query_one("#progress", DataTable)
        if run is None or not 0 <= table.cursor_row < len(run.hosts):
            return
        key = list(run.hosts)[table.cursor_row]
        self.set_status(await run.cancel(key))

    async def action_cancel_all(self) -> None:
        """Cancel the run on every host."""
        run = self.wapp.fleet_run
        if run is not None:
            self.set_status("; ".join(await run.cancel_all()) or "nothing to cancel")

    def action_back(self) -> None:
        """Back."""
        self.app.pop_screen()
