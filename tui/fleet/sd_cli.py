"""`wattfleet sd`: hand Prometheus the agents' /metrics targets, kept current (file_sd and/or http_sd).

Agents come from zeroconf, inventory files and the `address:port` entries of a credentials file; GetInfo
(with the token the inventory, the credentials file or --token-file gives) adds the host id, device model
and the agent's own labels. Every round re-reads the inventories (a broken edit keeps the last good one),
asks GetInfo of new agents (and of all every few rounds), and publishes the list when it changed. A round
that finds nothing, or fails, never empties the list: the last good one stays.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wattfleet.core.cli import ArgumentParser
from wattfleet.core.errors import ConfigError, UsageError, WattfleetError
from wattfleet.core.model import AgentInfo
from wattfleet.tui.fleet.credentials import Credentials, load_credentials
from wattfleet.tui.fleet.directory import AgentDirectory
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.inventory import load_inventory
from wattfleet.tui.fleet.sd import (
    HttpSdServer,
    Skipped,
    Target,
    TargetBook,
    build_target,
    dedupe,
    parse_listen,
    render,
    write_file_sd,
)

INFO_EVERY_ROUNDS = 10  # GetInfo again on every agent this often (labels can change with a restart)
INFO_TIMEOUT_S = 5.0
INFO_CONCURRENCY = 64  # GetInfo calls in flight at once (10,000 agents are asked 64 at a time)


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="wattfleet sd",
        description="Prometheus service discovery for wattfleet agents: write a file_sd JSON file and/or serve "
                    "an http_sd endpoint listing every agent's /metrics, labelled with host id, device model, "
                    "site, rack and the agent's own labels. Scrape them with honor_labels: true (docs/FLEET.md).",
    )
    out = p.add_argument_group("where the list goes")
    out.add_argument("--file-sd", type=Path, metavar="FILE", help="keep this file_sd JSON file current (atomic writes)")
    out.add_argument("--http-sd", metavar="[ADDR:]PORT",
                     help="serve the list at http://ADDR:PORT/targets for http_sd_configs (ADDR default 127.0.0.1)")
    src = p.add_argument_group("where agents come from")
    src.add_argument("--inventory", action="append", type=Path, default=[], metavar="FILE",
                     help="agents of this inventory TOML (repeatable; metrics_port per entry)")
    src.add_argument("--credentials", type=Path, metavar="FILE",
                     help="tokens (and TLS CAs) per host for GetInfo; its address:port entries are agents too")
    src.add_argument("--no-mdns", action="store_true", help="do not browse zeroconf")
    src.add_argument("--interface", action="append", default=[], metavar="IP",
                     help="browse zeroconf on the interface with this address (repeatable; default: all)")
    src.add_argument("--metrics-port", type=int, default=0, metavar="PORT",
                     help="/metrics port of agents that do not say theirs (no TXT 'mp', no inventory metrics_port)")
    auth = p.add_argument_group("GetInfo (labels)")
    token = auth.add_mutually_exclusive_group()
    token.add_argument("--token", help="bearer token for GetInfo (visible in ps; prefer --token-file)")
    token.add_argument("--token-file", type=Path, metavar="FILE", help="file holding the bearer token for GetInfo")
    auth.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA certificate for agents that serve TLS")
    auth.add_argument("--tls-cert", type=Path, metavar="FILE", help="client certificate for agents that want mTLS")
    auth.add_argument("--tls-key", type=Path, metavar="FILE", help="client key for --tls-cert")
    auth.add_argument("--no-info", action="store_true",
                      help="do not call GetInfo: labels from zeroconf and the inventory only")
    run = p.add_argument_group("rounds")
    run.add_argument("--interval-s", type=float, default=30.0, help="seconds between discovery rounds")
    run.add_argument("--browse-s", type=float, default=3.0, help="how long zeroconf browses before the first round")
    run.add_argument("--forget-after-s", type=float, default=600.0,
                     help="drop an agent not seen for this long (until then Prometheus shows it down)")
    run.add_argument("--once", action="store_true",
                     help="one round, then exit (1 when no target was found; the file is then left as it was); "
                          "without --file-sd the list goes to stdout")
    return p


def _check(args: argparse.Namespace) -> None:
    if args.no_mdns and not args.inventory and args.credentials is None:
        raise UsageError("--no-mdns leaves no agents to list; add --inventory FILE or --credentials FILE")
    if args.file_sd is None and args.http_sd is None and not args.once:
        raise UsageError("say where the list goes: --file-sd FILE and/or --http-sd [ADDR:]PORT (or --once for stdout)")
    if args.once and args.http_sd is not None:
        raise UsageError("--once exits after one round; an --http-sd endpoint would vanish with it (drop one)")
    for flag, value in (("--interval-s", args.interval_s), ("--browse-s", args.browse_s)):
        if not value > 0:
            raise UsageError(f"{flag} must be positive, got {value:g}")
    if not 0 <= args.metrics_port < 65536:
        raise UsageError(f"--metrics-port {args.metrics_port}: expected 1-65535 (0: only agents that say theirs)")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("mutual TLS needs both --tls-cert and --tls-key")
    if args.file_sd is not None and not args.file_sd.parent.is_dir():
        raise UsageError(f"--file-sd {args.file_sd}: folder {args.file_sd.parent} does not exist; create it first")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    _check(args)
    inventories = {path: load_inventory(path) for path in args.inventory}  # bad files stop here, exit 2
    credentials = load_credentials(args.credentials) if args.credentials is not None else None
    token = args.token
    if args.token_file is not None:
        from wattfleet.core.client import read_token_file

        token = read_token_file(args.token_file)
    http = HttpSdServer(*parse_listen(args.http_sd)) if args.http_sd is not None else None
    sd = Discovery(args, inventories, credentials, token)
    return asyncio.run(sd.serve(http))


def credential_endpoints(credentials: Credentials | None) -> list[AgentEndpoint]:
    """The `address:port` entries of a credentials file as agents (host-id and address-only entries name no port)."""
    out = []
    for key, cred in sorted((credentials.by_key if credentials else {}).items()):
        host, sep, port = key.rpartition(":")
        if not sep or not port.isdigit() or not host or (":" in host and not host.startswith("[")):
            continue
        out.append(AgentEndpoint(
            host_id="", addresses=(host.strip("[]"),), port=int(port), auth_required=True,
            tls=cred.tls_ca is not None, source="credentials", name=cred.entry, token_file=cred.token_file,
            tls_ca=cred.tls_ca))
    return out


@dataclass
class Discovery:
    """The rounds of `wattfleet sd`: endpoints -> GetInfo -> targets -> the book -> file and endpoint."""

    args: argparse.Namespace
    inventories: dict[Path, list[AgentEndpoint]]
    credentials: Credentials | None
    token: str | None
    book: TargetBook = field(init=False)
    infos: dict[str, AgentInfo] = field(default_factory=dict)
    said: set[str] = field(default_factory=set)
    rounds: int = 0
    kept: bool = False  # the last round kept the last good list

    def __post_init__(self) -> None:
        self.book = TargetBook(self.args.forget_after_s)

    def say(self, message: str, once: bool = False) -> None:
        if once and message in self.said:
            return
        self.said.add(message)
        print(f"wattfleet sd: {message}", file=sys.stderr, flush=True)

    async def serve(self, http: HttpSdServer | None) -> int:
        browser = None
        if not self.args.no_mdns:
            from wattfleet.tui.fleet.discovery import ZeroconfBrowser

            browser = ZeroconfBrowser(self.args.interface)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            if http is not None:
                self.say(f"http_sd at {http.start()}")
            async with AgentDirectory(browser) as directory:
                if browser is not None:
                    await _sleep_or_stop(stop, self.args.browse_s)
                if self.args.once:
                    return await self.round(directory.snapshot(), http)
                changed = asyncio.Event()
                follower = loop.create_task(_follow(directory, changed))
                try:
                    while not stop.is_set():
                        await self.round(directory.snapshot(), http)
                        await _wait_any(stop, changed, self.args.interval_s)
                        changed.clear()
                finally:
                    follower.cancel()
            return 0
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            if http is not None:
                http.stop()

    async def round(self, mdns: Sequence[AgentEndpoint], http: HttpSdServer | None) -> int:
        """One discovery round; returns 0 when a list is published, 1 when none could be."""
        self.rounds += 1
        endpoints = [*self._inventory_endpoints(), *credential_endpoints(self.credentials), *mdns]
        if not self.args.no_info:
            await self._get_infos(endpoints)
        built = [build_target(e, self.infos.get(e.key), self.args.metrics_port) for e in endpoints]
        skipped = [b for b in built if isinstance(b, Skipped)]
        for s in skipped:
            self.say(f"not a target: {s.reason}", once=True)
        found = dedupe([b for b in built if isinstance(b, Target)])
        before = {t.address for t in self.book.targets}
        changed = self.book.update(found, time.monotonic())
        targets = self.book.targets
        if not targets:
            where = self.args.file_sd or "the http_sd endpoint"
            self.say(f"no targets found this round; {where} left as it was", once=not self.args.once)
            return 1
        if self.book.kept_last_good and not self.kept:
            self.say(f"this round found no targets; kept the last good list of {len(targets)}")
        self.kept = self.book.kept_last_good
        if self.args.once and self.args.file_sd is None:
            sys.stdout.write(render(targets))
            return 0
        wrote = write_file_sd(self.args.file_sd, targets) if self.args.file_sd is not None else False
        if http is not None:
            http.publish(targets)
        if changed or wrote:
            now = {t.address for t in targets}
            where = f"; {self.args.file_sd} written" if wrote else ""
            self.say(f"{len(targets)} target(s) (+{len(now - before)} -{len(before - now)}){where}")
        return 0

    def _inventory_endpoints(self) -> list[AgentEndpoint]:
        out = []
        for path in list(self.inventories):
            try:
                self.inventories[path] = load_inventory(path)
            except ConfigError as exc:
                self.say(f"{exc}; kept its last good version", once=True)
            out += self.inventories[path]
        return out

    async def _get_infos(self, endpoints: Sequence[AgentEndpoint]) -> None:
        refresh_all = self.rounds % INFO_EVERY_ROUNDS == 1
        wanted = [e for e in endpoints if e.api_supported and (refresh_all or e.key not in self.infos)]
        gate = asyncio.Semaphore(INFO_CONCURRENCY)

        async def one(endpoint: AgentEndpoint) -> AgentInfo | None:
            async with gate:
                return await self._info(endpoint)

        results = await asyncio.gather(*(one(e) for e in wanted))
        for endpoint, info in zip(wanted, results, strict=True):
            if info is not None:
                self.infos[endpoint.key] = info

    async def _info(self, endpoint: AgentEndpoint) -> AgentInfo | None:
        from wattfleet.core.client import AgentClient
        from wattfleet.tui.fleet.auth import endpoint_auth

        try:
            token, ca = endpoint_auth(endpoint, self.token, self.args.tls_ca, self.credentials)
            async with AgentClient(endpoint.target, token=token, tls_ca=ca, client_cert=self.args.tls_cert,
                                   client_key=self.args.tls_key) as client:
                return await client.get_info(timeout_s=INFO_TIMEOUT_S)
        except WattfleetError as exc:
            self.say(f"GetInfo on {endpoint.label or endpoint.target} failed ({exc}); its labels come from "
                     "zeroconf or the inventory until it answers", once=True)
            return None


async def _follow(directory: AgentDirectory, changed: asyncio.Event) -> None:
    """Wake the loop when zeroconf sees an agent come, change or go (a new agent need not wait a round)."""
    async for _event in directory.events():
        changed.set()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


async def _wait_any(stop: asyncio.Event, changed: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(changed.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    if changed.is_set() and not stop.is_set():
        await _sleep_or_stop(stop, 0.5)  # let a burst of zeroconf answers settle into one round
