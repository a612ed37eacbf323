"""The one `wattfleet` command. Each subcommand's code is imported only when it runs.

That keeps `wattfleet agent` working on an edge host without Textual and `wattfleet tui` on a laptop
without ONNX Runtime.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from wattfleet.core import __version__
from wattfleet.core.errors import UsageError, WattfleetError

# name -> (module, one-line help). Each module has `main(argv: list[str]) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("wattfleet.agent.service.cli", "run the on-host agent (gRPC server, zeroconf advertisement)"),
    "discover": ("wattfleet.tui.fleet.discover_cli", "find agents (zeroconf or inventory) and print them"),
    "demo": ("wattfleet.core.demo", "start a local agent, discover it and show what it reports"),
    "bench": ("wattfleet.agent.workloads.cli", "run a workload profile locally, without an agent"),
    "telemetry": ("wattfleet.agent.telemetry.cli", "show live power readings from this host's sources"),
    "run": ("wattfleet.tui.fleet.run_cli", "start one profile on several agents and collect the records"),
    "audit": ("wattfleet.tui.fleet.audit_cli", "audit the fleet's power against its budget from saved run records"),
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong, and where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _top_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="wattfleet",
        description="Per-token latency and power across a GPU and edge fleet.",
        epilog="Run `wattfleet COMMAND --help` for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wattfleet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _top_parser()
    if not args or args[0].startswith("-"):
        parser.parse_args(args)  # handles --help / --version / unknown flags
        parser.print_help()
        return 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        parser.error(f"unknown command {name!r}; choose from {', '.join(SUBCOMMANDS)}")
    module_name = SUBCOMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("wattfleet"):
            raise  # our own module missing is a packaging bug, not a missing extra
        missing = exc.name or "a dependency"
        extra = "agent" if name in {"agent", "bench", "telemetry"} else "tui"
        print(
            f"wattfleet {name}: needs {missing!r}, which is not installed. "
            f"Install the {extra} extra: pip install 'wattfleet[{extra}]'",
            file=sys.stderr,
        )
        return 2
    entry: Callable[[list[str]], int] = module.main
    try:
        return entry(rest)
    except UsageError as exc:
        print(f"wattfleet {name}: {exc}", file=sys.stderr)
        return 2
    except WattfleetError as exc:
        print(f"wattfleet {name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
