"""The one `wattfleet` command. Each subcommand's code is imported only when it runs.

That keeps `wattfleet agent` working on an edge host without Textual and `wattfleet tui` on a laptop
without ONNX Runtime.

Exit codes, the same for every subcommand: 0 done; 1 a run or a host failed; 2 bad input (a flag, a
value, a file we were given: UsageError or ConfigError), before anything ran; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from wattfleet.core import __version__
from wattfleet.core.errors import ConfigError, UsageError, WattfleetError

# name -> (module, one-line help). Each module has `main(argv: list[str]) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("wattfleet.agent.service.cli", "run the on-host agent (gRPC server, zeroconf advertisement)"),
    "discover": ("wattfleet.tui.fleet.discover_cli", "find agents (zeroconf or inventory) and print them"),
    "demo": ("wattfleet.core.demo", "three local agents on loopback, a fleet-wide run, and the console on them"),
    "bench": ("wattfleet.agent.workloads.cli", "run a workload profile locally, without an agent"),
    "telemetry": ("wattfleet.agent.telemetry.cli", "show live power readings from this host's sources"),
    "run": ("wattfleet.tui.fleet.run_cli", "start one profile on several agents and collect the records"),
    "audit": ("wattfleet.tui.fleet.audit_cli", "audit the fleet's power against its budget from saved run records"),
    "tui": ("wattfleet.tui.cli", "the operator console: live fleet, heatmap, host detail, runs, Pareto view"),
    "sd": ("wattfleet.tui.fleet.sd_cli", "Prometheus service discovery: file_sd/http_sd targets for the agents"),
}

# Modules a subcommand needs that its own imports may not reach before --help: (modules, the extra with them).
NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "agent": (("onnxruntime",), "agent"),
    "bench": (("onnxruntime",), "agent"),
}

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def quiet_grpc_core() -> None:
    """Keep gRPC's C-core log lines (E0000 ... ev_poll_posix, fork handlers, absl's InitializeLog warning)
    off the user's terminal. Must run before grpc is first imported; a value the user set wins."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    os.environ.setdefault("GRPC_TRACE", "")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default once: appended as "(default: X)" when the default is a real value
    (not None, False or an empty list), and never when the help text already says its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], "", argparse.SUPPRESS):
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class RawDescriptionHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """HelpFormatter that keeps the description and epilog as written (examples in a docstring)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (what was wrong, and where to look) and defaults shown once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _top_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="wattfleet",
        description="Per-token latency and power across a GPU and edge fleet.",
        epilog="Run `wattfleet COMMAND --help` for a command's options. Exit codes: 0 done, 1 a run or host "
        "failed, 2 bad input, 130 interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wattfleet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    quiet_grpc_core()
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _top_parser()
    if not args or args[0].startswith("-"):
        parser.parse_args(args)  # handles --help / --version / unknown flags
        parser.print_help()
        return EXIT_USAGE
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        parser.error(f"unknown command {name!r}; choose from {', '.join(SUBCOMMANDS)}")
    module_name = SUBCOMMANDS[name][0]
    needed, needed_extra = NEEDS.get(name, ((), ""))
    absent = [m for m in needed if importlib.util.find_spec(m) is None]
    if absent:
        print(f"wattfleet {name}: needs {absent[0]!r}, which is not installed. "
              f"Install the {needed_extra} extra: pip install 'wattfleet[{needed_extra}]'", file=sys.stderr)
        return EXIT_USAGE
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
        return EXIT_USAGE
    entry: Callable[[list[str]], int] = module.main
    try:
        return entry(rest)
    except (UsageError, ConfigError) as exc:  # bad input: a flag, a value or a file we were given
        print(f"wattfleet {name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WattfleetError as exc:
        print(f"wattfleet {name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
