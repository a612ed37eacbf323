"""What an agent endpoint is, however it was found (zeroconf, an inventory, a credentials file, Prometheus).

Pure: no zeroconf, no gRPC. The zeroconf browser (discovery.py) and the inventory (inventory.py) both
produce AgentEndpoints; directory.py keeps the one view of them.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wattfleet.core.errors import UsageError
from wattfleet.core.model import API_NAME

Source = Literal["mdns", "inventory", "credentials"]
EventKind = Literal["added", "updated", "removed"]


@dataclass(frozen=True)
class AgentEndpoint:
    """Where an agent can be reached and what it said about itself before we connected."""

    host_id: str  # "" for an inventory entry until GetInfo tells us
    addresses: tuple[str, ...]  # IPs (or, from an inventory, a DNS name)
    port: int
    agent_version: str = ""
    device_summary: str = ""
    auth_required: bool = True
    tls: bool = False
    source: Source = "mdns"
    name: str = ""  # the zeroconf instance name, or the inventory entry's name
    token_file: Path | None = None  # inventory only
    tls_ca: Path | None = None  # inventory only
    labels: tuple[tuple[str, str], ...] = ()
    api: str = ""
    metrics_port: int = 0  # the agent's Prometheus /metrics port (TXT "mp" or inventory metrics_port); 0 = not said

    @property
    def api_supported(self) -> bool:
        """False for an agent that says it speaks another wire API than this client ("" = did not say)."""
        return self.api in ("", API_NAME)

    @property
    def key(self) -> str:
        """Identity inside a directory: one per advertisement or inventory entry."""
        return f"{self.source}:{self.name or self.host_id}"

    @property
    def label(self) -> str:
        """What to call this agent on screen."""
        return self.host_id or self.name

    @property
    def host(self) -> str:
        """The address to connect to, preferring IPv4 over IPv6 (link-local IPv6 last)."""
        if not self.addresses:
            raise UsageError(f"agent {self.label!r} has no address to connect to")
        return sorted(self.addresses, key=_address_rank)[0]

    @property
    def target(self) -> str:
        """`host:port` for gRPC, IPv6 in brackets."""
        host = self.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def _address_rank(address: str) -> tuple[int, str]:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return (1, address)  # a DNS name: after IPv4 literals, before IPv6
    if ip.version == 4:
        return (0, address)
    return (3 if ip.is_link_local else 2, address)


@dataclass(frozen=True)
class DiscoveryEvent:
    kind: EventKind
    endpoint: AgentEndpoint
    at_ns: int = field(default_factory=time.monotonic_ns)


def usable_address(address: str) -> bool:
    """False for a link-local IPv6 address without its scope (fe80::1 is ambiguous; fe80::1%eth0 is not)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # a DNS name
    return not (ip.version == 6 and ip.is_link_local and "%" not in address)
