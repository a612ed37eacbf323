"""`wattfleet discover`: find agents over zeroconf and/or an inventory and print them.

The inventory and the credentials file are read before anything touches the network, so a malformed
file stops the command with one line (exit 2) and nothing half-started. `--info` exits 1 when GetInfo
fails on any agent, and names them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from wattfleet.core.cli import ArgumentParser
from wattfleet.core.errors import UsageError, WattfleetError
from wattfleet.core.model import API_NAME
from wattfleet.tui.fleet.auth import endpoint_auth
from wattfleet.tui.fleet.credentials import Credentials, load_credentials
from wattfleet.tui.fleet.directory import AgentDirectory
from wattfleet.tui.fleet.discovery import ZeroconfBrowser
from wattfleet.tui.fleet.endpoints import AgentEndpoint, DiscoveryEvent
from wattfleet.tui.fleet.inventory import load_inventory


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="wattfleet discover",
        description="Find wattfleet agents on this network (zeroconf) or in an inventory file, and print them.",
    )
    p.add_argument("--timeout-s", type=float, default=3.0, help="how long to browse, seconds")
    p.add_argument("--interface", action="append", default=[], metavar="IP",
                   help="browse on the interface with this address (repeatable; default: all)")
    p.add_argument("--inventory", type=Path, metavar="FILE", help="also list the agents of this TOML file")
    p.add_argument("--no-mdns", action="store_true", help="do not browse; list the inventory only")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--info", action="store_true", help="call GetInfo on each agent; print providers and devices")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token", help="bearer token for --info (visible to other users in ps; prefer --token-file)")
    token.add_argument("--token-file", type=Path, metavar="FILE", help="file holding the bearer token for --info")
    p.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA certificate for agents that serve TLS")
    p.add_argument("--credentials", type=Path, metavar="FILE",
                   help="for --info: TOML file mapping host id or address to a token file (and TLS CA); its "
                        "entries win over an inventory's token_file and over --token/--token-file")
    p.add_argument("--watch", action="store_true", help="keep printing agents as they appear and vanish (Ctrl-C)")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.timeout_s <= 0:
        raise UsageError(f"--timeout-s must be positive, got {args.timeout_s:g}")
    if args.no_mdns and args.inventory is None:
        raise UsageError("--no-mdns leaves nothing to list; add --inventory FILE")
    if args.watch and (args.json or args.info):
        raise UsageError("--watch prints events as lines; use it without --json and --info")
    if args.credentials is not None and not args.info:
        raise UsageError("--credentials is for --info (GetInfo on each agent); add --info or drop it")
    inventory = load_inventory(args.inventory) if args.inventory is not None else []
    credentials = load_credentials(args.credentials) if args.credentials is not None else None
    token = args.token
    if args.token_file is not None:
        from wattfleet.core.client import read_token_file

        token = read_token_file(args.token_file)
    browser = None if args.no_mdns else ZeroconfBrowser(args.interface)
    directory = AgentDirectory(browser, inventory)
    if args.watch:
        return asyncio.run(_watch(directory, sys.stdout))
    found = asyncio.run(_browse(directory, args.timeout_s))
    infos = asyncio.run(_infos(found, token, args.tls_ca, credentials)) if args.info else {}
    if args.json:
        print(json.dumps([_as_json(e, infos.get(e.key)) for e in found], indent=2))
    elif found:
        _print_table(found, sys.stdout)
        for endpoint in found:
            if endpoint.key in infos:
                print_info(endpoint, infos[endpoint.key], sys.stdout)
    if not found:
        where = "in the inventory" if args.no_mdns else f"within {args.timeout_s:g} s"
        print(
            f"wattfleet discover: no agents found {where}; check that agents run with advertising on, "
            "that --interface names this host's address on their network, or use --inventory",
            file=sys.stderr,
        )
        return 1
    failed = [e.label or e.target for e in found if "error" in infos.get(e.key, {})]
    if failed:
        print(f"wattfleet discover: GetInfo failed on {len(failed)} of {len(found)} agent(s): {', '.join(failed)} "
              "(see above)", file=sys.stderr)
        return 1
    return 0


async def _browse(directory: AgentDirectory, timeout_s: float) -> list[AgentEndpoint]:
    async with directory:
        if directory.browser is not None:
            await asyncio.sleep(timeout_s)
        return directory.snapshot()


async def _watch(directory: AgentDirectory, out: TextIO) -> int:
    async with directory:
        async for event in directory.events():
            out.write(_event_line(event) + "\n")
            out.flush()
    return 0


def _event_line(event: DiscoveryEvent) -> str:
    e = event.endpoint
    sign = {"added": "+", "updated": "~", "removed": "-"}[event.kind]
    api = "" if e.api_supported else f"  [API {e.api}: not supported by this wattfleet]"
    return f"{sign} {event.kind:<7} {e.label:<24} {e.target:<22} {e.agent_version or '-':<10} {e.device_summary}{api}"


async def _infos(
    found: Sequence[AgentEndpoint], token: str | None, tls_ca: Path | None, credentials: Credentials | None
) -> dict[str, dict[str, Any]]:
    results = await asyncio.gather(*(info_as_dict(e, token, tls_ca, credentials) for e in found))
    return {e.key: r for e, r in zip(found, results, strict=True)}


async def info_as_dict(
    endpoint: AgentEndpoint, token: str | None, tls_ca: Path | None, credentials: Credentials | None = None
) -> dict[str, Any]:
    """GetInfo on one agent as a JSON-ready dict, or {"error": "..."}; one failure never stops the rest."""
    from wattfleet.core.client import AgentClient

    if not endpoint.api_supported:
        return {"error": f"speaks API {endpoint.api!r}; this wattfleet speaks {API_NAME!r} (upgrade one of them)"}
    try:
        own_token, ca = endpoint_auth(endpoint, token, tls_ca, credentials)
        async with AgentClient(endpoint.target, token=own_token, tls_ca=ca) as client:
            info = await client.get_info(timeout_s=10.0)
    except WattfleetError as exc:
        return {"error": str(exc)}
    return {
        "host_id": info.host_id,
        "hostname": info.hostname,
        "agent_version": info.agent_version,
        "platform": info.platform,
        "devices": [
            {"kind": d.kind, "index": d.index, "name": d.name, "memory_bytes": d.memory_bytes,
             "power_limit_w": d.power_limit_w}
            for d in info.devices
        ],
        "execution_providers": [{"name": p.name, "works": p.works, "detail": p.detail}
                                for p in info.execution_providers],
        "runtimes": dict(info.runtimes),
        "power_sources": [{"name": s.name, "domains": list(s.domains), "available": s.available}
                          for s in info.power_sources],
        "labels": dict(info.labels),
        "auth_required": info.auth_required,
        "tls": info.tls,
        "api": info.api,
        "tdp_w": info.tdp_w,
    }


def _as_json(endpoint: AgentEndpoint, info: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "host_id": endpoint.host_id,
        "name": endpoint.name,
        "source": endpoint.source,
        "addresses": list(endpoint.addresses),
        "port": endpoint.port,
        "target": endpoint.target,
        "agent_version": endpoint.agent_version,
        "device_summary": endpoint.device_summary,
        "auth_required": endpoint.auth_required,
        "tls": endpoint.tls,
        "labels": endpoint.label_map,
        "api": endpoint.api,
        "api_supported": endpoint.api_supported,
    }
    if info is not None:
        row["info"] = info
    return row


def _print_table(found: Sequence[AgentEndpoint], out: TextIO) -> None:
    header = ("HOST ID", "ADDRESS", "VERSION", "API", "DEVICES", "AUTH", "TLS", "SOURCE")
    rows = [
        (e.label, e.target, e.agent_version or "-",
         (e.api or "-") if e.api_supported else f"{e.api} (not supported)", e.device_summary or "-",
         "token" if e.auth_required else "none", "yes" if e.tls else "no", e.source)
        for e in found
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        out.write("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def print_info(endpoint: AgentEndpoint, info: dict[str, Any], out: TextIO) -> None:
    out.write(f"\n{endpoint.label} ({endpoint.target})\n")
    if "error" in info:
        out.write(f"  GetInfo failed: {info['error']}\n")
        return
    out.write(f"  host {info['hostname']}, agent {info['agent_version']}, {info['platform']}\n")
    for d in info["devices"]:
        out.write(f"  device {d['kind']}{d['index']}: {d['name']}\n")
    providers = [f"{p['name']}{'' if p['works'] else ' (fails)'}" for p in info["execution_providers"]]
    out.write(f"  execution providers: {', '.join(providers) or 'none probed'}\n")
    power = [f"{s['name']} ({', '.join(s['domains'])})" for s in info["power_sources"] if s["available"]]
    absent = [s["name"] for s in info["power_sources"] if not s["available"]]
    out.write(f"  power sources: {', '.join(power) or 'none'}{'; not found: ' + ', '.join(absent) if absent else ''}\n")
