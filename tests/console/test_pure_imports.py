"""The pure layers import no gRPC, Textual or zeroconf: walk their imports (transitively, through our own
modules) in a fresh interpreter and fail on a forbidden one."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("grpc", "textual", "zeroconf")
PURE = [
    "wattfleet.core.model", "wattfleet.agent.telemetry", "wattfleet.agent.figures.latency",
    "wattfleet.agent.figures.validity",
    "wattfleet.tui.fleet.model", "wattfleet.tui.fleet.summary", "wattfleet.tui.fleet.filterexpr",
    "wattfleet.tui.fleet.heatmap", "wattfleet.tui.fleet.pareto", "wattfleet.tui.fleet.sources",
    "wattfleet.tui.fleet.backoff", "wattfleet.tui.fleet.auth", "wattfleet.tui.fleet.endpoints",
    "wattfleet.tui.fleet.directory", "wattfleet.tui.fleet.credentials", "wattfleet.tui.fleet.inventory",
    "wattfleet.tui.fleet.sample", "wattfleet.tui.widgets.canvas",
    "wattfleet.tui.fleet.audit_console", "wattfleet.tui.fleet.prom_source", "wattfleet.tui.fleet.sample_prom",
]
ADAPTERS = ["wattfleet.tui.fleet.live.connection", "wattfleet.tui.fleet.discovery",  # allowed, and must be apart
            "wattfleet.tui.fleet.live.launch"]

PROBE = """
import importlib, json, sys
mod = sys.argv[1]
before = set(sys.modules)
importlib.import_module(mod)
print(json.dumps(sorted(m for m in set(sys.modules) - before)))
"""


def _loaded(module: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def _forbidden(loaded: list[str]) -> list[str]:
    return sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)


def test_each_pure_module_imports_nothing_forbidden() -> None:
    found = {module: bad for module in PURE if (bad := _forbidden(_loaded(module)))}
    assert not found, f"pure modules pulling in {FORBIDDEN}: {found}"


def test_the_walk_can_fail_the_adapters_do_import_grpc_and_zeroconf() -> None:
    assert "grpc" in _forbidden(_loaded(ADAPTERS[0]))
    assert "zeroconf" in _forbidden(_loaded(ADAPTERS[1]))
