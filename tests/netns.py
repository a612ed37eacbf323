"""Private networks for tests: Linux network namespaces joined by veth pairs and a bridge.

Nothing here touches the host's own interfaces: links are created inside the namespaces (`ip -n`), the
names are unique per test run, and `NetnsLab.close()` (or leaving its `with` block, failure or not)
ends every process left inside and deletes the namespaces.

    with NetnsLab() as lab:
        a, hub = lab.namespace("a"), lab.namespace("hub")
        lab.bridge(hub, "br0")
        lab.link(a, "10.213.0.1/24", hub, "br0")
        a.run("ip", "addr")
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_serial = itertools.count()


def unavailable_reason() -> str | None:
    """Why namespaces cannot be built here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (ip netns add)"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip` command"
    return None


def _ip(*args: str, timeout_s: float = 15.0) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Namespace:
    name: str
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    def prefix(self) -> tuple[str, ...]:
        """Put in front of a command to run it inside this namespace."""
        return ("ip", "netns", "exec", self.name)

    def ip(self, *args: str) -> str:
        """`ip -n NAME ...`: configure this namespace's links, addresses and routes."""
        return _ip("-n", self.name, *args)

    def run(self, *argv: str, timeout_s: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.prefix(), *argv], capture_output=True, text=True, timeout=timeout_s)
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"in netns {self.name}: {' '.join(argv)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
            )
        return proc

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a process inside; it is ended when the lab closes if it is still running."""
        proc: subprocess.Popen[Any] = subprocess.Popen([*self.prefix(), *argv], **kwargs)
        self.processes.append(proc)
        return proc

    def pids(self) -> list[int]:
        return [int(p) for p in _ip("netns", "pids", self.name).split()]


class NetnsLab:
    """A set of namespaces made for one test, always torn down together."""

    def __init__(self, tag: str = "") -> None:
        self.tag = f"wft{os.getpid()}x{next(_serial)}{tag[:8]}"
        self.namespaces: list[Namespace] = []

    def __enter__(self) -> NetnsLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def namespace(self, role: str) -> Namespace:
        """A fresh namespace with `lo` up (multicast on, so zeroconf can also run on its loopback)."""
        ns = Namespace(f"{self.tag}-{role}")
        _ip("netns", "add", ns.name)
        self.namespaces.append(ns)
        ns.ip("link", "set", "lo", "up", "multicast", "on")
        return ns

    def bridge(self, ns: Namespace, name: str = "br0") -> None:
        ns.ip("link", "add", name, "type", "bridge", "mcast_snooping", "0")
        ns.ip("link", "set", name, "up")

    def link(self, ns: Namespace, cidr: str, hub: Namespace, bridge: str = "br0", ifname: str = "eth0") -> None:
        """Join `ns` to the bridge in `hub` with a veth pair; `ns` gets `cidr` on `ifname`."""
        port = f"p{len(hub.ip('-o', 'link').splitlines())}"  # unique inside the hub
        ns.ip("link", "add", ifname, "type", "veth", "peer", "name", port, "netns", hub.name)
        hub.ip("link", "set", port, "master", bridge)
        hub.ip("link", "set", port, "up")
        ns.ip("addr", "add", cidr, "dev", ifname)
        ns.ip("link", "set", ifname, "up")

    def close(self) -> None:
        """End what runs inside (politely, then by force), then delete the namespaces."""
        procs = [p for ns in self.namespaces for p in ns.processes if p.poll() is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        errors: list[str] = []
        for ns in reversed(self.namespaces):
            try:
                for pid in ns.pids():  # started inside this test's own namespace, so ours
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                _ip("netns", "del", ns.name)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors.append(f"{ns.name}: {exc}")
        self.namespaces.clear()
        if errors:
            raise RuntimeError("network namespace cleanup failed: " + "; ".join(errors))
