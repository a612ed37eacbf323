"""Finding agents: what an agent endpoint is, and a zeroconf browser that reports them coming and going.

The browser follows python-zeroconf's async pattern: the service handler only schedules a task (kept in
a set until it is done); resolving the service happens in that task, never in the callback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from zeroconf import DNSQuestionType, InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from wattfleet.core.errors import UsageError, WattfleetError

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wattfleet._tcp.local."  # the agent's advertiser registers the same type
DEFAULT_PORT = 50551

Source = Literal["mdns", "inventory"]
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
        ip = ipaddress.ip_address(address)
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


def _text(properties: Mapping[bytes, bytes | None], key: str) -> str:
    value = properties.get(key.encode())
    return value.decode("utf-8", "replace") if value is not None else ""


def endpoint_from_info(info: AsyncServiceInfo) -> AgentEndpoint:
    """An endpoint from a resolved zeroconf service."""
    props = info.properties
    host_id = _text(props, "id")
    instance = info.name[: -len(SERVICE_TYPE) - 1] if info.name.endswith("." + SERVICE_TYPE) else info.name
    return AgentEndpoint(
        host_id=host_id or instance,
        addresses=tuple(info.parsed_scoped_addresses(IPVersion.All)),
        port=info.port or 0,
        agent_version=_text(props, "v"),
        device_summary=_text(props, "dev"),
        auth_required=_text(props, "auth") != "none",
        tls=_text(props, "tls") == "1",
        source="mdns",
        name=info.name,
        api=_text(props, "api"),
    )


def _check_interfaces(interfaces: Sequence[str]) -> list[str]:
    for text in interfaces:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise UsageError(
                f"--interface {text!r} is not an IP address; give the address of a local interface, "
                "e.g. --interface 192.168.1.20 (or 127.0.0.1 for loopback)"
            ) from None
    return list(interfaces)


class ZeroconfBrowser:
    """Browses `_wattfleet._tcp.local.` and yields added/updated/removed events.

    `interfaces` are local IPs to bind to (empty: all interfaces). Use as `async with`, then
    `async for event in browser.events()`.
    """

    def __init__(
        self,
        interfaces: Sequence[str] = (),
        *,
        service_type: str = SERVICE_TYPE,
        resolve_timeout_s: float = 3.0,
    ) -> None:
        self.interfaces = tuple(_check_interfaces(interfaces))
        self.service_type = service_type
        self.resolve_timeout_s = resolve_timeout_s
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._known: dict[str, AgentEndpoint] = {}
        self._generation: dict[str, int] = {}
        self._queue: asyncio.Queue[DiscoveryEvent | None] = asyncio.Queue()
        self._closed = False

    async def __aenter__(self) -> ZeroconfBrowser:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if self._zc is not None:
            return
        if self.interfaces:
            has_v6 = any(":" in a for a in self.interfaces)
            has_v4 = any(":" not in a for a in self.interfaces)
            version = IPVersion.All if has_v4 and has_v6 else IPVersion.V6Only if has_v6 else IPVersion.V4Only
            zc = AsyncZeroconf(interfaces=list(self.interfaces), ip_version=version)
        else:
            zc = AsyncZeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
        self._zc = zc
        # QM (multicast-reply) questions only: a unicast reply goes to one socket on port 5353, and when
        # several responders or browsers share a host (or loopback) it may not be ours.
        self._browser = AsyncServiceBrowser(
            zc.zeroconf, [self.service_type], handlers=[self._on_change], question_type=DNSQuestionType.QM
        )

    async def close(self) -> None:
        """Stop browsing, cancel pending resolutions, close zeroconf; ends `events()`. Idempotent."""
        if self._closed:
            return
        self._closed = True
        browser, zc = self._browser, self._zc
        self._browser = self._zc = None
        try:
            if browser is not None:
                await browser.async_cancel()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            if zc is not None:
                await zc.async_close()
            self._queue.put_nowait(None)

    def snapshot(self) -> list[AgentEndpoint]:
        return list(self._known.values())

    async def events(self) -> AsyncIterator[DiscoveryEvent]:
        """Every change from the start of browsing until the browser is closed."""
        while True:
            event = await self._queue.get()
            if event is None:
                self._queue.put_nowait(None)  # let any other reader end too
                return
            yield event

    def _on_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        # Only schedule: the handler runs inside zeroconf's packet processing.
        generation = self._generation.get(name, 0) + 1
        self._generation[name] = generation
        task = asyncio.get_running_loop().create_task(self._handle(name, state_change, generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, name: str, state_change: ServiceStateChange, generation: int) -> None:
        if state_change is ServiceStateChange.Removed:
            gone = self._known.pop(name, None)
            if gone is not None:
                self._queue.put_nowait(DiscoveryEvent("removed", gone))
            return
        zc = self._zc
        if zc is None:
            return
        info = AsyncServiceInfo(self.service_type, name)
        resolved = await info.async_request(
            zc.zeroconf, int(self.resolve_timeout_s * 1000), question_type=DNSQuestionType.QM
        )
        if self._generation.get(name) != generation:
            return  # a later change for this name (possibly its removal) supersedes this one
        if not resolved or not info.port:
            log.warning("could not resolve %s within %.1f s; ignoring it", name, self.resolve_timeout_s)
            return
        endpoint = endpoint_from_info(info)
        before = self._known.get(name)
        self._known[name] = endpoint
        if before is None:
            self._queue.put_nowait(DiscoveryEvent("added", endpoint))
        elif before != endpoint:
            self._queue.put_nowait(DiscoveryEvent("updated", endpoint))


class DiscoveryTimeout(WattfleetError, TimeoutError):
    """Fewer agents than expected turned up in time."""


class AgentDirectory:
    """The one view of known agents, fed by a zeroconf browser and/or an inventory.

    Screens and `wattfleet run` use this: `async with AgentDirectory(browser, inventory) as d`, then
    `d.snapshot()`, `await d.wait_for(n, timeout_s)` or `async for event in d.events()`. The directory
    starts and closes the browser it was given.
    """

    def __init__(
        self, browser: ZeroconfBrowser | None = None, inventory: Sequence[AgentEndpoint] | None = None
    ) -> None:
        self.browser = browser
        self._endpoints: dict[str, AgentEndpoint] = {}
        self._subscribers: set[asyncio.Queue[DiscoveryEvent | None]] = set()
        self._changed = asyncio.Condition()
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        for endpoint in inventory or ():
            self._endpoints[endpoint.key] = endpoint

    async def __aenter__(self) -> AgentDirectory:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if self.browser is None or self._pump is not None:
            return
        await self.browser.start()
        self._pump = asyncio.get_running_loop().create_task(self._follow(self.browser))

    async def close(self) -> None:
        """Stop the browser and end every `events()` iterator. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.browser is not None:
                await self.browser.close()
            if self._pump is not None:
                await self._pump
        finally:
            for queue in self._subscribers:
                queue.put_nowait(None)

    def snapshot(self) -> list[AgentEndpoint]:
        """Known agents now, ordered by label."""
        return sorted(self._endpoints.values(), key=lambda e: (e.label, e.key))

    async def events(self) -> AsyncIterator[DiscoveryEvent]:
        """An `added` event for each agent already known, then every change until the directory closes."""
        queue: asyncio.Queue[DiscoveryEvent | None] = asyncio.Queue()
        for endpoint in self.snapshot():
            queue.put_nowait(DiscoveryEvent("added", endpoint))
        if self._closed:
            queue.put_nowait(None)
        self._subscribers.add(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._subscribers.discard(queue)

    async def wait_until(
        self, predicate: Callable[[list[AgentEndpoint]], bool], timeout_s: float
    ) -> list[AgentEndpoint]:
        """Wait until `predicate(snapshot())` holds; returns that snapshot. Raises DiscoveryTimeout."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.snapshot())), timeout_s)
            except asyncio.TimeoutError:
                raise DiscoveryTimeout(self._timeout_message(timeout_s)) from None
        return self.snapshot()

    async def wait_for(
        self, count: int, timeout_s: float, *, where: Callable[[AgentEndpoint], bool] | None = None
    ) -> list[AgentEndpoint]:
        """Wait until at least `count` agents (those matching `where`, if given) are known."""
        match = where or (lambda _e: True)
        found = await self.wait_until(lambda eps: sum(1 for e in eps if match(e)) >= count, timeout_s)
        return [e for e in found if match(e)]

    def _timeout_message(self, timeout_s: float) -> str:
        known = ", ".join(e.label for e in self.snapshot()) or "none"
        where = (
            f"zeroconf on {', '.join(self.browser.interfaces) or 'all interfaces'}"
            if self.browser is not None
            else "the inventory only"
        )
        return (
            f"not all expected agents turned up within {timeout_s:g} s via {where} (known: {known}); "
            "check that the agents run, advertise on this network (--interface) and are not firewalled "
            "from UDP 5353, or list them in an inventory"
        )

    async def _follow(self, browser: ZeroconfBrowser) -> None:
        async for event in browser.events():
            if event.kind == "removed":
                self._endpoints.pop(event.endpoint.key, None)
            else:
                self._endpoints[event.endpoint.key] = event.endpoint
            for queue in self._subscribers:
                queue.put_nowait(event)
            async with self._changed:
                self._changed.notify_all()
