"""`wattfleet demo`: the whole loop on one machine, on loopback only.

By default it starts three real agents (each its own process, token and zeroconf advertisement on
127.0.0.1) with different settings (intra-op threads, batch size, model, the TDP behind their estimated
power), opens the console on them as zeroconf finds them, and runs a built-in profile on all three, so the
heatmap and the Pareto view compare something. Quitting the console stops every agent.

`--headless` keeps the printout: one agent, discovered, described, the profile run through gRPC, its
figures printed. The profile runs as written: the demo never overrides its minimum duration (smoke's own
1.5 s is long enough for a 5 Hz estimated power source to give a tokens/J window).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wattfleet.core.cli import ArgumentParser
from wattfleet.core.errors import UsageError
from wattfleet.core.localagent import wait_ready

LOOPBACK = "127.0.0.1"


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="wattfleet demo",
        description=(
            "Start a local agent on loopback, discover it over zeroconf, print what it reports, run a "
            "built-in profile on it and print the figures. Touches no other network."
        ),
    )
    p.add_argument("--profile", default="smoke", help="built-in profile to run on the agent, as written")
    p.add_argument("--no-run", action="store_true", help="only discover the agent and show its info")
    p.add_argument("--data-dir", type=Path, help="agent data dir (default: a temporary folder)")
    p.add_argument("--timeout-s", type=float, default=10.0, help="how long to wait for discovery, seconds")
    p.add_argument("--headless", action="store_true",
                   help="no console: one agent, its info and the run's figures printed (the old demo)")
    p.add_argument("--out", type=Path, help="folder for the run records (default: ./wattfleet-demo-records)")
    return p


def _say(text: str) -> None:
    print(text, flush=True)


def _start_agent(data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    ready = data_dir / "ready.json"
    ready.unlink(missing_ok=True)
    log = open(data_dir / "agent.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattfleet.core.cli", "agent", "--listen", LOOPBACK, "--port", "0",
         "--interface", LOOPBACK, "--host-id", "demo-agent", "--data-dir", str(data_dir),
         "--ready-file", str(ready)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    return proc, wait_ready(proc, ready, timeout_s=120, log=data_dir / "agent.log")


async def _discover_and_show(token: str, timeout_s: float, run_profile: str | None, out_dir: Path) -> int:
    from wattfleet.tui.fleet.discover_cli import info_as_dict, print_info
    from wattfleet.tui.fleet.discovery import AgentDirectory, ZeroconfBrowser

    t0 = time.monotonic()
    async with AgentDirectory(ZeroconfBrowser([LOOPBACK]), []) as directory:
        (endpoint,) = await directory.wait_for(1, timeout_s, where=lambda e: e.host_id == "demo-agent")
    _say(f"discovered {endpoint.label} at {endpoint.target} over zeroconf in {time.monotonic() - t0:.2f} s "
         f"(auth: {'token' if endpoint.auth_required else 'none'})")
    print_info(endpoint, await info_as_dict(endpoint, token, None), sys.stdout)
    if not run_profile:
        return 0
    from wattfleet.tui.fleet.run_cli import Reporter, build_spec, run_on_host, summary_table

    _say(f"\nrunning the built-in profile {run_profile!r} on {endpoint.label} through gRPC")
    spec = build_spec(run_profile, {}, {"via": "demo"}, "")  # the profile as written, never overridden
    result = await run_on_host(endpoint, spec, token, None, out_dir,
                               Reporter(sys.stdout), {})
    _say("\n" + summary_table([result]))
    return 0 if result.ok else 1


def _records_dir(args: argparse.Namespace) -> Path:
    out_dir: Path = args.out or Path.cwd() / "wattfleet-demo-records"
    with contextlib.suppress(OSError):  # a read-only cwd: the record falls back to the temp folder, said
        out_dir.mkdir(exist_ok=True)
    return out_dir


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.timeout_s > 0:
        raise UsageError(f"--timeout-s must be positive, got {args.timeout_s:g}")
    if not args.headless:
        from wattfleet.tui.demo import run_console_demo

        return run_console_demo(args.profile, not args.no_run, args.data_dir, _records_dir(args))
    with tempfile.TemporaryDirectory(prefix="wattfleet-demo-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        _say(f"starting an agent on {LOOPBACK} (data and log in {data_dir})")
        proc, ready = _start_agent(data_dir)
        _say(f"agent pid {ready['pid']} serving on port {ready['port']}; token in {ready['token_file']}")
        token = Path(str(ready["token_file"])).read_text().strip()
        out_dir = _records_dir(args)
        try:
            code = asyncio.run(
                _discover_and_show(token, args.timeout_s, None if args.no_run else args.profile, out_dir)
            )
        finally:
            proc.terminate()
            _say(f"agent stopped (exit {proc.wait(timeout=60)})")
    return code
