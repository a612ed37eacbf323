"""The command palette (Ctrl+P): every console action by name, so nothing needs a mouse or a memorised key."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import Hit, Hits, Provider

from wattfleet.tui.fleet.heatmap import METRICS

ACTIONS = {"filter": "Filter", "sort": "Sort", "reverse": "Reverse", "group": "Group", "metric": "Metric",
           "launcher": "Launcher", "pareto": "Pareto", "audit": "Audit", "next_kind": "Domain", "rerun": "Re-run",
           "back": "Back"}


class ConsoleCommands(Provider):
    """Screen actions and heatmap metrics, searchable by name."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        screen = app.screen
        out: list[tuple[str, Callable[[], object], str]] = [
            ("Help: keys and the filter language", partial(app.run_action, "help"), "?"),
            ("Quit", app.exit, "q"),
        ]
        for name, label in ACTIONS.items():
            action = getattr(screen, f"action_{name}", None)
            if action is not None:
                out.append((f"{label}: {(action.__doc__ or '').strip().splitlines()[0]}", action, ""))
        set_metric = getattr(screen, "set_metric", None)
        if set_metric is not None:
            for metric in METRICS.values():
                out.append((f"Colour the heatmap by {metric.label}", partial(set_metric, metric.name), "m"))
        return out

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, key in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=f"key: {key}" if key else None)

    async def discover(self) -> Hits:
        for text, callback, key in self._commands():
            yield Hit(1.0, text, callback, help=f"key: {key}" if key else None)
