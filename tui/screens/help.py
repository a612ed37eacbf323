"""`?`: every key, the filter language and what the heatmap's marks mean."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from wattfleet.tui.fleet.filterexpr import __doc__ as FILTER_DOC
from wattfleet.tui.fleet.heatmap import MARKS, SHADES, STATE_MEANING

KEYS = (
    ("everywhere", "?  help · Ctrl+P  command palette · Esc  back · q  quit · Tab  next pane"),
    ("fleet", "/ filter · s sort · R reverse · g group by label · m heatmap metric · l launch a run · "
              "p Pareto view · a audit · Enter open host (table or heatmap cell) · arrows move in the heatmap"),
    ("host", "Enter / o open the selected run's full record · l launch a run on this host"),
    ("launcher", "Enter pick profile · Space toggle host · a all in filter · n none · Ctrl+R start · "
                 "c cancel host · C cancel all"),
    ("Pareto", "x  p99 TTFT / p99 TPOT · y  tokens/J, J/token, J per correct answer, task success · "
               "d  next energy domain (one frontier per domain kind)"),
    ("audit", "1-5  where the watts go, budget, tokens/J, outliers, allocation · r  re-run on what is on screen "
              "(it proposes; applying is the operator's)"),
)


def help_text() -> Text:
    text = Text()
    text.append("keys\n", style="bold underline")
    for where, keys in KEYS:
        text.append(f"{where:>10}  ", style="bold")
        text.append(keys + "\n")
    text.append("\nfilter (/)\n", style="bold underline")
    doc = (FILTER_DOC or "").split("\n\n", 1)[-1]
    text.append(doc.rstrip() + "\n")
    text.append("\nheatmap\n", style="bold underline")
    text.append(f"shades {' '.join(SHADES)} place a value on the grid's scale, worst to best (they carry the "
                "scale without colour); marks after the value:\n")
    for state, mark in MARKS.items():
        if mark.strip():
            text.append(f"  {mark}  {STATE_MEANING[state]}\n")
    text.append("Energy figures are in the run's headline domain (METRICS.md); estimated power is a model, "
                "never a measurement. Hosts not reporting are shown stale, never live.\n", style="dim")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"), Binding("question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text())

    def action_dismiss(self) -> None:  # type: ignore[override]
        """Close help."""
        self.dismiss(None)
