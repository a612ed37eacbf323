"""The operator console: one Textual app over one fleet model.

Sources (live agents, record folders, ...) feed the model in workers; a tick (twice a second) marks quiet
hosts stale and, when the model changed, asks the screen on top to redraw from it. However many messages
arrive between two ticks, the screen draws once (floods are coalesced by reading state, not queueing it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from textual.app import App
from textual.binding import Binding, BindingType

from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import RunRecord, RunSpec
from wattfleet.tui.commands import ConsoleCommands
from wattfleet.tui.fleet.audit_console import ConsoleAudit
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.sources import Source

TICK_S = 0.5


class ModelView(Protocol):
    def refresh_view(self) -> None: ...


class LiveAgents(Protocol):
    """What the app needs of the live source (tui/fleet/live/source.LiveSource is one)."""

    @property
    def connections(self) -> Mapping[str, Any]: ...

    async def fetch_record(self, key: str, run_id: str) -> RunRecord | None: ...


@dataclass
class AutoRun:
    """Start one profile on the first `hosts` live hosts once they are all reporting (the demo uses it)."""

    profile: str
    hosts: int
    overrides: Callable[[str], dict[str, str]] = field(default=lambda _label: {})
    labels: dict[str, str] = field(default_factory=dict)
    started: bool = False


class WattfleetApp(App[int]):
    CSS_PATH = "wattfleet.tcss"
    TITLE = "wattfleet"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),
    ]

    def __init__(self, model: FleetModel, sources: Sequence[Source] = (), *, live: LiveAgents | None = None,
                 profile_files: Iterable[Path] = (), out_dir: Path | None = None, autorun: AutoRun | None = None,
                 tick_s: float = TICK_S, subtitle: str = "", audit: ConsoleAudit | None = None) -> None:
        super().__init__()
        self.model = model
        self.sources = list(sources)
        self.live = live
        self.profile_files = list(profile_files)
        self.out_dir = out_dir
        self.autorun = autorun
        self.tick_s = tick_s
        self.fleet_run: Any = None  # live/runs.FleetRun, imported only when a run starts
        self.sub_title = subtitle
        self.audit = audit or ConsoleAudit()  # what the audit screen audits against (budget, SLO, Prometheus)
        self._drawn_version = -1

    def on_mount(self) -> None:
        from wattfleet.tui.screens.fleet import FleetScreen

        self.push_screen(FleetScreen())
        for source in self.sources:
            self.run_worker(self._feed(source), group="sources", exit_on_error=False)
        self.set_interval(self.tick_s, self.tick)

    async def _feed(self, source: Source) -> None:
        try:
            await source.run(self.model)
        except WattfleetError as exc:
            self.model.note(f"{source.name}: {exc}")
            self.notify(f"{source.name}: {exc}", severity="error", timeout=10)

    def tick(self) -> None:
        """Coalesced redraw: at most once per tick, and only when the model changed (or charts move)."""
        self.model.tick()
        if self.fleet_run is not None:
            self.fleet_run.progress()
        if self.autorun is not None and not self.autorun.started:
            self._maybe_autorun(self.autorun)
        changed = self.model.version != self._drawn_version
        self._drawn_version = self.model.version
        screen = self.screen
        if getattr(screen, "ready", False) and (changed or getattr(screen, "ALWAYS_REFRESH", False)):
            refresh = getattr(screen, "refresh_view", None)
            if refresh is not None:
                refresh()

    def _maybe_autorun(self, auto: AutoRun) -> None:
        if self.live is None:
            return
        ready = [h for h in self.model.sorted_hosts() if h.reporting and h.key in self.live.connections]
        if len(ready) < auto.hosts:
            return
        auto.started = True
        specs = {h.key: RunSpec(profile=auto.profile, overrides=auto.overrides(h.label), labels=auto.labels)
                 for h in ready[: auto.hosts]}
        self.start_fleet_run(specs)
        self.notify(f"running the built-in profile {auto.profile!r} on {len(specs)} hosts", timeout=6)

    # --- intents from screens --------------------------------------------------------------------------

    def start_fleet_run(self, specs: Mapping[str, RunSpec]) -> str:
        if self.live is None:
            return "no live agents: this console shows saved records only"
        from wattfleet.tui.fleet.live.runs import FleetRun

        run = FleetRun(self.model, self.live.connections, specs, self.out_dir)
        self.fleet_run = run
        self.run_worker(run.run(), group="runs", exit_on_error=False)
        return f"started on {len(specs)} host(s)"

    async def fetch_record(self, key: str, run_id: str) -> RunRecord | None:
        host = self.model.hosts.get(key)
        if host is None:
            return None
        known = next((r for r in host.runs if r.run_id == run_id), None)
        if known is not None and (known.queries or self.live is None or key not in self.live.connections):
            return known
        assert self.live is not None
        return await self.live.fetch_record(key, run_id)

    def action_help(self) -> None:
        from wattfleet.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_host(self, key: str) -> None:
        from wattfleet.tui.screens.host import HostScreen

        if key in self.model.hosts:
            self.push_screen(HostScreen(key))

    def open_record(self, key: str, run_id: str) -> None:
        from wattfleet.tui.screens.record import RecordScreen

        self.push_screen(RecordScreen(key, run_id))

    def open_launcher(self, keys: Sequence[str] = ()) -> None:
        from wattfleet.tui.screens.launcher import LauncherScreen

        self.push_screen(LauncherScreen(list(keys)))

    def open_pareto(self, keys: Sequence[str] = ()) -> None:
        from wattfleet.tui.screens.pareto import ParetoScreen

        self.push_screen(ParetoScreen(list(keys)))

    def open_audit(self, keys: Sequence[str] | None = None) -> None:
        """The audit of these hosts' runs (None: every host the console knows)."""
        from wattfleet.tui.screens.audit import AuditScreen

        self.push_screen(AuditScreen(None if keys is None else list(keys)))
