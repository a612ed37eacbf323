"""The one view of known agents, fed by a browser (zeroconf, or anything with the same shape) and/or an
inventory. Pure: the browser is given, not imported, so an inventory-only directory never loads zeroconf."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Protocol

from wattfleet.core.errors import WattfleetError
from wattfleet.tui.fleet.endpoints import AgentEndpoint, DiscoveryEvent


class Browser(Protocol):
    """What AgentDirectory needs of a browser (discovery.ZeroconfBrowser is one)."""

    interfaces: tuple[str, ...]

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def events(self) -> AsyncIterator[DiscoveryEvent]: ...


class DiscoveryTimeout(WattfleetError, TimeoutError):
    """Fewer agents than expected turned up in time."""


class AgentDirectory:
    """The one view of known agents, fed by a zeroconf browser and/or an inventory.

    Screens and `wattfleet run` use this: `async with AgentDirectory(browser, inventory) as d`, then
    `d.snapshot()`, `await d.wait_for(n, timeout_s)` or `async for event in d.events()`. The directory
    starts and closes the browser it was given.
    """

    def __init__(
        self, browser: Browser | None = None, inventory: Sequence[AgentEndpoint] | None = None
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

    async def _follow(self, browser: Browser) -> None:
        async for event in browser.events():
            if event.kind == "removed":
                self._endpoints.pop(event.endpoint.key, None)
            else:
                self._endpoints[event.endpoint.key] = event.endpoint
            for queue in self._subscribers:
                queue.put_nowait(event)
            async with self._changed:
                self._changed.notify_all()
