"""`wattfleet run`: start one profile on several agents, follow them, and write one record per host.

Progress goes to stderr, one line per host event (phase changes, and progress at most once a second);
the records go to `--out DIR/<host>-<run_id>.json` (checked before anything starts; never over another
file; the working directory when DIR cannot take it any more); a summary table ends the output, with
each run's validity and low-confidence marks. A host that fails (unreachable, refused, failed run) never
stops the others; the exit code is 1 if any did, 2 for bad input. Ctrl-C cancels the runs it started on
every host before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from wattfleet.core.cli import ArgumentParser
from wattfleet.core.client import AgentClient, AgentError, read_token_file
from wattfleet.core.errors import UsageError, WattfleetError
from wattfleet.core.model import API_NAME, ENDED_STATES, Figure, Notice, PhaseChange, Progress, RunRecord, RunSpec
from wattfleet.core.recordfile import Written, check_out_folder, write_record
from wattfleet.tui.fleet.auth import endpoint_auth
from wattfleet.tui.fleet.credentials import Credentials, load_credentials
from wattfleet.tui.fleet.directory import AgentDirectory
from wattfleet.tui.fleet.discovery import ZeroconfBrowser
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.inventory import load_inventory

SUMMARY_FIGURES = ("tokens_per_s", "samples_per_s", "ttft_p99", "tpot_p50", "tokens_per_j", "success_rate",
                   "j_per_correct")
TASK_FIGURES = ("success_rate", "j_per_correct")  # columns shown when some host scored answers ([task])
LOW_CONFIDENCE_LEGEND = "* low confidence: too few samples for that percentile, or a short/gappy energy window"
PROGRESS_EVERY_S = 1.0


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="wattfleet run",
        description="Start one workload profile on several agents and collect one run record per host.",
    )
    p.add_argument("profile", help="a profile name the agents know, or a local .toml file to send to them")
    where = p.add_argument_group("which agents (at least one of)")
    where.add_argument("--hosts", default="", help="comma-separated host:port list")
    where.add_argument("--discover", action="store_true", help="every agent found over zeroconf")
    where.add_argument("--inventory", type=Path, metavar="FILE", help="every agent of this inventory file")
    p.add_argument("--match", action="append", default=[], metavar="GLOB",
                   help="only agents whose host id or name matches (shell glob, repeatable), e.g. 'edge-*'")
    p.add_argument("--timeout-s", type=float, default=3.0, help="how long to browse with --discover, seconds")
    p.add_argument("--interface", action="append", default=[], metavar="IP", help="browse on this interface")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token", help="bearer token (visible in ps; prefer --token-file)")
    token.add_argument("--token-file", type=Path, metavar="FILE", help="file holding the bearer token")
    p.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA certificate for agents that serve TLS")
    p.add_argument("--credentials", type=Path, metavar="FILE",
                   help="TOML file: host id or address -> token file (and TLS CA), for agents with their own "
                        "tokens; its entries win over an inventory's token_file and over --token/--token-file")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help="existing folder for the records (one file per host, never over another file)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a profile key")
    p.add_argument("--label", action="append", default=[], metavar="K=V", help="label carried into each record")
    p.add_argument("--device", default="", help="device selector on each host, e.g. gpu:0 (default: profile's)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout instead of a table")
    return p


@dataclass
class HostResult:
    target: str
    host_id: str = ""
    run_id: str = ""
    state: str = "not started"
    error: str = ""
    record_path: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)
    headline: str = ""  # the energy domain of the device the run ran on (METRICS.md)
    valid: bool | None = None  # None: no record to judge
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "completed"


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def build_spec(profile: str, overrides: dict[str, str], labels: dict[str, str], device: str) -> RunSpec:
    """A RunSpec: a local .toml file's text is sent inline; anything else is a name the agents know."""
    path = Path(profile)
    if path.suffix == ".toml" or path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read profile file {path}: {exc.strerror or exc}") from exc
        return RunSpec(profile_toml=text, overrides=overrides, labels=labels, device=device)
    return RunSpec(profile=profile, overrides=overrides, labels=labels, device=device)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80] or "host"


class Reporter:
    """Per-host progress lines on a stream, throttled."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._last: dict[str, float] = {}

    def say(self, host: str, message: str, *, throttle: bool = False) -> None:
        now = time.monotonic()
        if throttle and now - self._last.get(host, 0.0) < PROGRESS_EVERY_S:
            return
        self._last[host] = now
        self.out.write(f"[{host}] {message}\n")
        self.out.flush()


async def run_on_host(
    endpoint: AgentEndpoint,
    spec: RunSpec,
    token: str | None,
    tls_ca: Path | None,
    out_dir: Path,
    reporter: Reporter,
    started: dict[str, tuple[Callable[[], AgentClient], str]],
    credentials: Credentials | None = None,
) -> HostResult:
    """Start, follow and record one host's run. Never raises for the host's own failures."""
    result = HostResult(endpoint.target, host_id=endpoint.host_id)
    name = endpoint.label or endpoint.target
    if not endpoint.api_supported:
        result.state, result.error = "refused", (f"the agent speaks API {endpoint.api!r}, this wattfleet "
                                                 f"{API_NAME!r}; upgrade one of them")
        reporter.say(name, f"skipped: {result.error}")
        return result
    try:
        own_token, ca = endpoint_auth(endpoint, token, tls_ca, credentials)

        def connect() -> AgentClient:
            return AgentClient(endpoint.target, token=own_token, tls_ca=ca)

        async with connect() as client:
            handle = await client.start_run(spec)
            result.run_id, result.state = handle.run_id, handle.state
            started[endpoint.target] = (connect, handle.run_id)
            queued = f" (position {handle.queue_position} in the queue)" if handle.queue_position else ""
            reporter.say(name, f"run {handle.run_id} {handle.state}{queued}")
            summary = await _follow(client, handle.run_id, name, reporter)
            started.pop(endpoint.target, None)
            record_text = await _record_text(client, summary, reporter, name)
    except AgentError as exc:
        result.state = "failed" if result.run_id else ("unreachable" if exc.code == "UNAVAILABLE" else "refused")
        result.error = f"{exc.code}: {exc.message}"
        reporter.say(name, f"error: {result.error}")
        return result
    except WattfleetError as exc:
        result.state, result.error = "failed", str(exc)
        reporter.say(name, f"error: {result.error}")
        return result
    result.state = summary.state
    result.host_id = summary.host_id or result.host_id
    result.error = summary.error
    result.figures = {f.key: f for f in summary.figures}
    result.headline = summary.headline_domain
    if summary.validity.reasons or summary.validity.valid or summary.validity.queries:
        result.valid, result.reasons = summary.validity.valid, summary.validity.reasons
    try:
        written = _write_record(out_dir, result, record_text)
    except WattfleetError as exc:  # nowhere to write: the run's figures are still in the table
        result.error = str(exc)
        reporter.say(name, f"error: {exc}")
        return result
    result.record_path = str(written.path)
    if written.note:
        reporter.say(name, written.note)
    reporter.say(name, f"{summary.state}{': ' + summary.error if summary.error else ''}; record {result.record_path}")
    return result


async def _follow(client: AgentClient, run_id: str, name: str, reporter: Reporter) -> RunRecord:
    try:
        async for event in client.watch_run(run_id):
            body = event.body
            if isinstance(body, PhaseChange):
                reporter.say(name, f"{body.state}{' - ' + body.detail if body.detail else ''}")
            elif isinstance(body, Progress):
                reporter.say(
                    name,
                    f"{body.fraction * 100:5.1f}%  {body.queries_done} queries  {body.tokens_done} tokens  "
                    f"{body.elapsed_s:.1f} s",
                    throttle=True,
                )
            elif isinstance(body, Notice):
                reporter.say(name, f"{body.level}: {body.message}")
            elif isinstance(body, RunRecord):
                return body
    except AgentError as exc:
        if exc.code != "OUT_OF_RANGE":
            raise
        reporter.say(name, "fell behind the event stream; fetching the record with GetRun")
        return await _wait_ended(client, run_id)
    return await _wait_ended(client, run_id)


async def _wait_ended(client: AgentClient, run_id: str) -> RunRecord:
    while True:
        summary = await client.get_run(run_id)
        if summary.state in ENDED_STATES:
            return summary
        await asyncio.sleep(1.0)


async def _record_text(client: AgentClient, summary: RunRecord, reporter: Reporter, name: str) -> str:
    """The run's full JSON record (GetRunRecord); the typed record alone if the agent cannot send it."""
    try:
        return await client.get_run_record_json(summary.run_id)
    except AgentError as exc:
        reporter.say(name, f"warning: the full record did not arrive ({exc.code}: {exc.message}); "
                           "writing the summary the agent sent")
        return summary.to_json()


def _write_record(out_dir: Path, result: HostResult, text: str) -> Written:
    host, run = _safe(result.host_id or result.target), _safe(result.run_id)
    name = f"{run if run.startswith(host + '-') else host + '-' + run}.json"
    return write_record(text, out_dir, name)


def _figure_cell(figure: Figure | None, figures: dict[str, Figure] | None = None) -> str:
    if figure is not None and figure.value is None and "no correct answer" in figure.definition:
        return f"no correct [{figure.domain}]"  # j_per_correct is undefined, not infinite: none was correct
    if figure is None or figure.value is None:
        return "-"
    cell = f"{figure.value:.4g} {figure.unit}".strip()
    if figure.unit == "fraction":  # success_rate, with its Wilson interval where the record has it
        cell = f"{figure.value:.1%}"
        low, high = (figures or {}).get(f"{figure.name}_ci_low"), (figures or {}).get(f"{figure.name}_ci_high")
        if low is not None and high is not None and low.value is not None and high.value is not None:
            cell += f" (CI {low.value:.1%}-{high.value:.1%})"
    cell += f" [{figure.domain}]" if figure.domain else ""  # an energy figure names its domain (METRICS.md)
    return cell + (" *" if figure.low_confidence else "")


def summary_table(results: Sequence[HostResult]) -> str:
    """Per host: state, validity (reasons as numbered notes below), the summary figures with `*` on
    low-confidence ones (legend below), and the record path or the error. An energy figure is the headline
    domain's (the device the run ran on, METRICS.md); the same figure in the host's other domains is listed
    beside it, never chosen in its place."""
    scored = any("success_rate" in r.figures for r in results)
    shown = [n for n in SUMMARY_FIGURES if scored or n not in TASK_FIGURES]
    cols = ["host", "state", "validity", *shown, "other domains", "record / error"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for r in results:
        host = r.host_id or r.target
        if r.valid is None:
            validity = "-"
        elif r.valid:
            validity = "valid"
        else:
            notes.append(f"[{len(notes) + 1}] {host}: {r.reasons[0] if r.reasons else 'no reason recorded'}"
                         + (f" (+{len(r.reasons) - 1} more in the record)" if len(r.reasons) > 1 else ""))
            validity = f"NOT VALID [{len(notes)}]"
        cells = [host, r.state, validity]
        for name in shown:
            cells.append(_figure_cell(r.figures.get(f"{name}[{r.headline}]") or r.figures.get(name), r.figures))
        others = [f for f in r.figures.values() if f.name == "tokens_per_j" and f.domain and f.domain != r.headline]
        cells.append(", ".join(_figure_cell(f) for f in others) or "-")
        cells.append(r.record_path if r.ok else (r.error or r.record_path))
        rows.append(cells)
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines += notes
    if any(f.low_confidence for r in results for f in r.figures.values() if f.name in SUMMARY_FIGURES):
        lines.append(LOW_CONFIDENCE_LEGEND)
    return "\n".join(line.rstrip() for line in lines)


async def _endpoints(args: argparse.Namespace, inventory: list[AgentEndpoint]) -> list[AgentEndpoint]:
    found: dict[str, AgentEndpoint] = {}
    for item in (h.strip() for h in args.hosts.split(",")):
        if item:
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise UsageError(f"--hosts entry {item!r}: expected host:port (e.g. 10.0.0.5:50551)")
            found[item] = AgentEndpoint(  # TLS when the user gave a CA for the agents
                host_id="", addresses=(host.strip("[]"),), port=int(port), source="inventory", name=item,
                tls=args.tls_ca is not None,
            )
    for e in inventory:
        found.setdefault(e.target, e)
    if args.discover:
        async with AgentDirectory(ZeroconfBrowser(args.interface)) as directory:
            await asyncio.sleep(args.timeout_s)
            for e in directory.snapshot():
                found.setdefault(e.target, e)
    if args.match:
        found = {k: e for k, e in found.items() if _matches(e, args.match)}
    return list(found.values())


def _matches(endpoint: AgentEndpoint, patterns: Sequence[str]) -> bool:
    names = [n for n in (endpoint.host_id, endpoint.name, endpoint.target) if n]
    return any(fnmatch.fnmatchcase(n, p) for n in names for p in patterns)


async def _run_all(
    args: argparse.Namespace,
    spec: RunSpec,
    token: str | None,
    inventory: list[AgentEndpoint],
    credentials: Credentials | None,
    err: TextIO,
) -> list[HostResult]:
    endpoints = await _endpoints(args, inventory)
    if not endpoints:
        raise UsageError(
            "no agents to run on: none found (check --hosts/--inventory, or that --discover can see the agents "
            "on --interface, and what --match selects)"
        )
    reporter = Reporter(err)
    err.write(f"wattfleet run: {spec.profile or 'inline profile'} on {len(endpoints)} host(s)\n")
    started: dict[str, tuple[Callable[[], AgentClient], str]] = {}
    tasks = [
        asyncio.ensure_future(run_on_host(e, spec, token, args.tls_ca, args.out, reporter, started, credentials))
        for e in endpoints
    ]
    try:
        return list(await asyncio.gather(*tasks))
    except asyncio.CancelledError:  # Ctrl-C: the hosts' clients are closing, so cancel over fresh ones
        await asyncio.gather(*(_cancel(t, connect, run_id, err) for t, (connect, run_id) in list(started.items())))
        raise


async def _cancel(target: str, connect: Callable[[], AgentClient], run_id: str, err: TextIO) -> None:
    try:
        async with connect() as client:
            await asyncio.wait_for(client.cancel_run(run_id), 5.0)
        err.write(f"[{target}] cancelled run {run_id}\n")
    except (WattfleetError, asyncio.TimeoutError) as exc:
        err.write(f"[{target}] could not cancel run {run_id}: {exc}\n")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not (args.hosts or args.discover or args.inventory):
        raise UsageError("say where to run: --hosts host:port,..., --discover or --inventory FILE")
    if args.timeout_s <= 0:
        raise UsageError(f"--timeout-s must be positive, got {args.timeout_s:g}")
    check_out_folder(args.out)
    spec = build_spec(args.profile, _pairs(args.set, "--set"), _pairs(args.label, "--label"), args.device)
    inventory = load_inventory(args.inventory) if args.inventory is not None else []
    credentials = load_credentials(args.credentials) if args.credentials is not None else None
    token = read_token_file(args.token_file) if args.token_file is not None else args.token
    results = asyncio.run(_run_all(args, spec, token, inventory, credentials, sys.stderr))
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "target": r.target,
                        "host_id": r.host_id,
                        "run_id": r.run_id,
                        "state": r.state,
                        "error": r.error,
                        "record": r.record_path,
                        "headline_domain": r.headline,
                        "validity": None if r.valid is None else {"valid": r.valid, "reasons": list(r.reasons)},
                        "figures": {k: f.to_dict() for k, f in r.figures.items()},
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        print(summary_table(results))
    failed = [r for r in results if not r.ok]
    if failed:
        print(
            f"wattfleet run: {len(failed)} of {len(results)} host(s) did not complete: "
            + ", ".join(r.host_id or r.target for r in failed),
            file=sys.stderr,
        )
        return 1
    return 0
