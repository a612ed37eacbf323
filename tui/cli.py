"""`wattfleet tui`: the operator console over live agents (zeroconf, an inventory, a credentials file),
saved records (`--records DIR`) or a Prometheus server (`--prometheus URL`: the fleet screen from a few
PromQL queries per refresh; runs still start on the agents found by zeroconf or an inventory), in this
terminal or, with `--serve`, in a browser through textual-serve. `--budget` and the SLO flags set what the
audit screen (`a`) audits against, as for `wattfleet audit`.

Files given on the command line (inventory, credentials, token, budget) are read before the screen opens,
so a bad one stops the command with one line and exit 2.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from wattfleet.core.cli import ArgumentParser
from wattfleet.core.errors import UsageError
from wattfleet.tui.fleet.audit import AuditOptions
from wattfleet.tui.fleet.audit_cli import add_budget_flags, check_budget_flags, slo_of
from wattfleet.tui.fleet.audit_console import ConsoleAudit
from wattfleet.tui.fleet.auth import endpoint_auth, read_token
from wattfleet.tui.fleet.credentials import Credentials, load_credentials
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.model import STALE_AFTER_S, FleetModel
from wattfleet.tui.fleet.sources import RecordsSource, Source

_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):(\d{1,5})$")


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="wattfleet tui",
        description="The operator console: live hosts, a tokens-per-joule heatmap, host detail, fleet-wide "
                    "runs, a Pareto view and the power-budget audit. Keys: ? help, / filter, a audit, "
                    "Ctrl+P commands, Esc back, q quit.",
    )
    p.add_argument("--records", type=Path, action="append", default=[], metavar="DIR",
                   help="open saved records (run/bench JSON files, agents' journal.sqlite3) instead of agents; "
                        "repeatable")
    p.add_argument("--inventory", type=Path, metavar="FILE", help="agents of this inventory file")
    p.add_argument("--credentials", type=Path, metavar="FILE",
                   help="TOML: host id or address -> token file (and TLS CA); address:port entries are also "
                        "shown as hosts")
    p.add_argument("--no-mdns", action="store_true", help="do not browse zeroconf")
    p.add_argument("--interface", action="append", default=[], metavar="IP", help="browse on this interface")
    p.add_argument("--token-file", type=Path, metavar="FILE", help="bearer token for agents not in --credentials")
    p.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA certificate for agents that serve TLS")
    p.add_argument("--profile-dir", type=Path, action="append", default=[], metavar="DIR",
                   help="local profile files (*.toml) to offer in the launcher")
    p.add_argument("--out", type=Path, metavar="DIR", help="also write each fleet run's records here")
    prom = p.add_argument_group("Prometheus (a fleet too large to stream from every agent; docs/FLEET.md)")
    prom.add_argument("--prometheus", metavar="URL",
                      help="fill the fleet screen from this Prometheus server instead of a stream per agent; runs "
                           "still start on the agents found by zeroconf, --inventory or --credentials")
    prom.add_argument("--prometheus-selector", default='job="wattfleet"', metavar="MATCHERS",
                      help="label matchers of the agents' series (default: job=\"wattfleet\")")
    prom.add_argument("--prometheus-range", default="5m", metavar="DURATION",
                      help="the span tokens/J is taken over from the counters (default 5m)")
    prom.add_argument("--prometheus-interval-s", type=float, default=2.0, metavar="S",
                      help="seconds between refreshes (default 2; each is five queries)")
    audit = p.add_argument_group("the audit screen (a), as `wattfleet audit`")
    add_budget_flags(audit)
    audit.add_argument("--audit-range", default="1h", metavar="DURATION",
                       help="with --prometheus: the range the audit screen reads from it besides the runs on screen "
                            "(default 1h)")
    p.add_argument("--serve", action="store_true", help="publish the console to a browser (textual-serve)")
    p.add_argument("--serve-host", default="localhost", help="address for --serve")
    p.add_argument("--serve-port", type=int, default=8000, help="port for --serve")
    return p


def endpoints_from_credentials(credentials: Credentials) -> list[AgentEndpoint]:
    """Entries written as address:port name a reachable agent: they become hosts of their own."""
    out = []
    for key, entry in sorted(credentials.by_key.items()):
        m = _HOST_PORT.match(key)
        if m is None or not 0 < int(m.group(2)) < 65536:
            continue
        host = m.group(1).strip("[]")
        out.append(AgentEndpoint(host_id="", addresses=(host,), port=int(m.group(2)), source="inventory",
                                 name=entry.entry, tls=entry.tls_ca is not None, tls_ca=entry.tls_ca))
    return out


def build_sources(args: argparse.Namespace, model: FleetModel) -> tuple[list[Source], object | None]:
    """The record source and/or the live source the flags ask for."""
    sources: list[Source] = []
    if args.records:
        sources.append(RecordsSource(args.records))
    prometheus = args.prometheus
    if prometheus:
        from wattfleet.tui.fleet.prom_source import PrometheusSource
        from wattfleet.tui.fleet.promql import parse_duration_s

        sources.append(PrometheusSource(prometheus, selector=args.prometheus_selector,
                                        range_s=parse_duration_s(args.prometheus_range, "--prometheus-range"),
                                        interval_s=args.prometheus_interval_s))
    inventory: list[AgentEndpoint] = []
    if args.inventory is not None:
        from wattfleet.tui.fleet.inventory import load_inventory

        inventory += load_inventory(args.inventory)
    credentials = load_credentials(args.credentials) if args.credentials is not None else None
    if credentials is not None:
        inventory += endpoints_from_credentials(credentials)
    token = read_token(args.token_file) if args.token_file is not None else None
    browse = not args.no_mdns and not args.records
    if not inventory and not browse:
        return sources, None
    from wattfleet.tui.fleet.directory import AgentDirectory
    from wattfleet.tui.fleet.live.source import LiveSource

    browser = None
    if browse:
        from wattfleet.tui.fleet.discovery import ZeroconfBrowser

        browser = ZeroconfBrowser(args.interface)
    directory = AgentDirectory(browser, inventory)

    def auth(endpoint: AgentEndpoint) -> tuple[str | None, Path | None]:
        return endpoint_auth(endpoint, token, args.tls_ca, credentials)

    if prometheus:  # Prometheus draws the fleet; the agents are kept for starting runs
        from wattfleet.tui.fleet.live.launch import LaunchOnlyAgents
        from wattfleet.tui.fleet.prom_source import host_key

        launcher = LaunchOnlyAgents(directory, auth, host_key)
        sources.append(launcher)
        return sources, launcher
    live = LiveSource(directory, auth)
    sources.append(live)
    return sources, live


def console_audit(args: argparse.Namespace) -> ConsoleAudit:
    """The audit screen's settings from the flags; a bad budget file or value stops here (exit 2)."""
    budget = check_budget_flags(args)
    if args.prometheus:
        from wattfleet.tui.fleet.promql import check_url, parse_duration_s

        check_url(args.prometheus)
        parse_duration_s(args.audit_range, "--audit-range")
        parse_duration_s(args.prometheus_range, "--prometheus-range")
        if not args.prometheus_interval_s > 0:
            raise UsageError(f"--prometheus-interval-s must be positive, got {args.prometheus_interval_s:g}")
    options = AuditOptions(budget=budget, slo=slo_of(args), target_tokens_per_s=args.target_tokens_per_s,
                           domain=args.domain)
    return ConsoleAudit(options, prometheus_url=args.prometheus or "", prometheus_selector=args.prometheus_selector,
                        range_text=args.audit_range)


def _serve(args: argparse.Namespace, argv: list[str]) -> int:
    from textual_serve.server import Server

    rest = [a for a in argv if a != "--serve"]
    for flag in ("--serve-host", "--serve-port"):
        while flag in rest:
            i = rest.index(flag)
            del rest[i:i + 2]
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "wattfleet.core.cli", "tui", *rest])
    Server(command, host=args.serve_host, port=args.serve_port, title="wattfleet").serve()
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    for folder in args.records:
        if not folder.exists():
            raise UsageError(f"--records {folder}: no such file or folder")
    audit = console_audit(args)
    if args.serve:
        return _serve(args, argv)
    profile_files = sorted(p for d in args.profile_dir for p in d.glob("*.toml"))
    stale_after_s = STALE_AFTER_S
    if args.prometheus:  # a host is stale when a refresh or two brought nothing new (plus the query timeout)
        stale_after_s = max(STALE_AFTER_S, 2 * args.prometheus_interval_s + 5.0)
    model = FleetModel(stale_after_s=stale_after_s)
    sources, live = build_sources(args, model)
    from wattfleet.tui.app import WattfleetApp

    subtitle = "saved records" if args.records else "live"
    if args.prometheus:
        subtitle = f"Prometheus {args.prometheus}"
    app = WattfleetApp(model, sources, live=live, profile_files=profile_files, out_dir=args.out,  # type: ignore[arg-type]
                       subtitle=subtitle, audit=audit)
    app.run()
    return 0
