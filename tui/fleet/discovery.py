"""Finding agents over zeroconf: a browser that reports them coming and going (endpoints.py says what an
agent endpoint is; directory.py keeps the one view of them).

The browser follows python-zeroconf's async pattern: the service handler only schedules a task (kept in
a set until it is done); resolving the service happens in that task, never in the callback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType

from zeroconf import DNSQuestionType, InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from wattfleet.core.errors import UsageError
from wattfleet.tui.fleet.directory import AgentDirectory, DiscoveryTimeout
from wattfleet.tui.fleet.endpoints import AgentEndpoint, DiscoveryEvent, usable_address

__all__ = ["SERVICE_TYPE", "AgentDirectory", "AgentEndpoint", "DiscoveryEvent", "DiscoveryTimeout",
           "ZeroconfBrowser", "endpoint_from_info"]

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wattfleet._tcp.local."  # the agent's advertiser registers the same type
DEFAULT_PORT = 50551


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
        # Link-local IPv6 addresses keep their scope (fe80::1%eth0); one without it is left out.
        addresses=tuple(a for a in info.parsed_scoped_addresses(IPVersion.All) if usable_address(a)),
        port=info.port or 0,
        agent_version=_text(props, "v"),
        device_summary=_text(props, "dev"),
        auth_required=_text(props, "auth") != "none",
        tls=_text(props, "tls") == "1",
        source="mdns",
        name=info.name,
        api=_text(props, "api"),
        metrics_port=_port(_text(props, "mp")),
    )


def _port(text: str) -> int:
    """A TXT port value, or 0 when absent or not a port."""
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else 0


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


