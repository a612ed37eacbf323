"""`wattfleet demo` with the console: three real agents on loopback, each set up differently, found over
zeroconf, one built-in profile run on all three, and the console open on them. Quitting stops them all.

The three differ where an operator's hosts would: intra-op threads, batch size, the model, and the TDP
behind their estimated power (this machine has no power meter, so every energy figure is an estimate
from CPU utilisation and is labelled `estimated`). All three share this machine's CPU, which their
records flag as contended when it is.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from wattfleet.core.localagent import wait_ready
from wattfleet.tui.fleet.credentials import Credential, Credentials
from wattfleet.tui.fleet.endpoints import DiscoveryEvent

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class DemoHost:
    host_id: str
    tdp_w: float
    overrides: dict[str, str]
    labels: dict[str, str]


HOSTS = (
    DemoHost("demo-a", 65.0, {"runtime.intra_op_threads": "1"},
             {"threads": "1", "batch": "1", "model": "decoder-tiny", "tier": "edge"}),
    DemoHost("demo-b", 95.0, {"runtime.intra_op_threads": "2", "load.batch_size": "4"},
             {"threads": "2", "batch": "4", "model": "decoder-tiny", "tier": "edge"}),
    DemoHost("demo-c", 125.0, {"runtime.intra_op_threads": "2", "model.builtin": "decoder-small"},
             {"threads": "2", "batch": "1", "model": "decoder-small", "tier": "server"}),
)


def _say(text: str) -> None:
    print(text, flush=True)


def start_agents(data_root: Path) -> list[tuple[DemoHost, subprocess.Popen[bytes], dict[str, object]]]:
    """Start the three agents at once and wait until each is serving (killing all if one fails)."""
    procs: list[tuple[DemoHost, subprocess.Popen[bytes], Path]] = []
    for host in HOSTS:
        data_dir = data_root / host.host_id
        data_dir.mkdir(parents=True, exist_ok=True)
        ready = data_dir / "ready.json"
        ready.unlink(missing_ok=True)
        labels = [a for k, v in host.labels.items() for a in ("--label", f"{k}={v}")]
        with open(data_dir / "agent.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "wattfleet.core.cli", "agent", "--listen", LOOPBACK, "--port", "0",
                 "--interface", LOOPBACK, "--host-id", host.host_id, "--data-dir", str(data_dir),
                 "--ready-file", str(ready), "--tdp-w", f"{host.tdp_w:g}", *labels],
                stdout=log, stderr=subprocess.STDOUT,
            )
        procs.append((host, proc, data_dir))
    started = []
    try:
        for host, proc, data_dir in procs:
            ready_info = wait_ready(proc, data_dir / "ready.json", timeout_s=120, log=data_dir / "agent.log")
            started.append((host, proc, ready_info))
            _say(f"  {host.host_id}: pid {ready_info['pid']}, port {ready_info['port']}, "
                 + ", ".join(f"{k} {v}" for k, v in host.labels.items()) + f", estimated power at TDP {host.tdp_w:g} W")
    except BaseException:
        stop_agents([p for _h, p, _d in procs])
        raise
    return started


def stop_agents(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=30))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


class OnlyThese:
    """A zeroconf browser that passes on only the demo's own agents (others may share the loopback)."""

    def __init__(self, browser: object, host_ids: set[str]) -> None:
        self.browser = browser
        self.host_ids = host_ids
        self.interfaces: tuple[str, ...] = getattr(browser, "interfaces", ())

    async def start(self) -> None:
        await self.browser.start()  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self.browser.close()  # type: ignore[attr-defined]

    async def events(self) -> AsyncIterator[DiscoveryEvent]:
        async for event in self.browser.events():  # type: ignore[attr-defined]
            if event.endpoint.host_id in self.host_ids:
                yield event


def run_console_demo(profile: str, run: bool, data_dir: Path | None, out_dir: Path) -> int:
    from wattfleet.tui.app import AutoRun, WattfleetApp
    from wattfleet.tui.fleet.auth import endpoint_auth
    from wattfleet.tui.fleet.directory import AgentDirectory
    from wattfleet.tui.fleet.discovery import ZeroconfBrowser
    from wattfleet.tui.fleet.live.source import LiveSource
    from wattfleet.tui.fleet.model import FleetModel

    with tempfile.TemporaryDirectory(prefix="wattfleet-demo-") as tmp:
        root = data_dir or Path(tmp)
        _say(f"starting three agents on {LOOPBACK} (data and logs in {root}) ...")
        agents = start_agents(root)
        try:
            creds = Credentials(root / "credentials", {
                h.host_id: Credential(h.host_id, Path(str(info["token_file"])).read_text().strip(),
                                      Path(str(info["token_file"]))) for h, _p, info in agents})
            directory = AgentDirectory(OnlyThese(ZeroconfBrowser([LOOPBACK]), {h.host_id for h in HOSTS}))
            live = LiveSource(directory, lambda e: endpoint_auth(e, None, None, creds))
            overrides = {h.host_id: h.overrides for h in HOSTS}
            auto = AutoRun(profile, len(HOSTS), lambda label: dict(overrides.get(label, {})), {"via": "demo"}) \
                if run else None
            app = WattfleetApp(FleetModel(), [live], live=live, out_dir=out_dir, autorun=auto,
                               subtitle=f"demo: 3 agents on loopback, CPU only, estimated power; records in {out_dir}")
            app.run()
        finally:
            codes = stop_agents([p for _h, p, _i in agents])
            _say(f"agents stopped (exit {', '.join(str(c) for c in codes)}); records in {out_dir}")
    return 0
