"""Zeroconf advertisement of one agent as `_wattfleet._tcp.local.`.

The TXT record is small and public: agent version, host id, device summary, whether a token and TLS are
required, and the API name. It never carries a secret: `build_txt` refuses anything that looks like one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any

import ifaddr
from zeroconf import DNSQuestionType, InterfaceChoice, IPVersion, NonUniqueNameException
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import API_NAME  # one name, shared with the clients

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wattfleet._tcp.local."


# TXT keys, short on purpose (RFC 6763 section 6.4 suggests keys of at most 9 characters).
TXT_KEYS = {
    "v": "agent version",
    "id": "host id",
    "dev": "device summary",
    "auth": "'token' or 'none'",
    "tls": "'1' or '0'",
    "api": "wire API name",
    "mp": "Prometheus /metrics port (only while the agent serves one)",
}
_MAX_TXT_ENTRY_BYTES = 255  # one DNS character-string
_MAX_LABEL_BYTES = 63
_NAME_CHECK_MS = 500  # how long to listen for another agent answering to our name
_SECRET_KEY = re.compile(r"(token|secret|passw|pwd|bearer|credential|private|apikey|api_key)", re.I)
_SECRET_VALUE = re.compile(r"(-----BEGIN|^bearer\s|^basic\s)", re.I)


class AdvertiseError(WattfleetError):
    """The advertisement could not be built or registered."""


def instance_name(host_id: str) -> str:
    """A DNS-SD instance label from a host id: printable, no dots, at most 63 bytes."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", host_id).strip("-")
    cleaned = cleaned.encode("ascii")[:_MAX_LABEL_BYTES].decode("ascii").strip("-")
    return cleaned or "wattfleet-agent"


def build_txt(
    *,
    agent_version: str,
    host_id: str,
    device_summary: str,
    auth_required: bool,
    tls: bool,
    extra: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> dict[str, str]:
    """The TXT record for an agent. Pass the agent's token (and any other secret) in `secrets`:
    a value that contains one is refused, as are keys and values that look like credentials."""
    txt = {
        "v": agent_version,
        "id": host_id,
        "dev": device_summary,
        "auth": "token" if auth_required else "none",
        "tls": "1" if tls else "0",
        "api": API_NAME,
    }
    for key, value in (extra or {}).items():
        if key in txt:
            raise AdvertiseError(f"TXT key {key!r} is reserved for the {TXT_KEYS[key]}; pick another key")
        txt[key] = value
    check_txt(txt, secrets=secrets)
    return txt


def check_txt(txt: Mapping[str, str], *, secrets: Iterable[str] = ()) -> None:
    """Refuse a TXT record that could leak a secret or would not fit in DNS."""
    known = [s for s in secrets if s]
    for key, value in txt.items():
        if not key or "=" in key or not key.isascii():
            raise AdvertiseError(f"TXT key {key!r} is not valid: use short ASCII keys without '='")
        if _SECRET_KEY.search(key):
            raise AdvertiseError(
                f"TXT key {key!r} looks like a credential; the advertisement is public: never put "
                "tokens, passwords or keys in it"
            )
        if _SECRET_VALUE.search(value) or any(secret in value for secret in known):
            raise AdvertiseError(
                f"TXT value for {key!r} contains what looks like a secret; the advertisement is public: "
                "remove it"
            )
        size = len(key.encode()) + 1 + len(value.encode())
        if size > _MAX_TXT_ENTRY_BYTES:
            raise AdvertiseError(
                f"TXT entry {key!r} is {size} bytes, over the DNS limit of {_MAX_TXT_ENTRY_BYTES}; shorten it"
            )


def _local_ipv4_addresses() -> list[str]:
    """Every IPv4 address of this host, loopback last (used only when nothing else exists)."""
    found = {ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4}
    routable = sorted(a for a in found if isinstance(a, str) and not ipaddress.ip_address(a).is_loopback)
    return routable or ["127.0.0.1"]


def _parse_addresses(addresses: Sequence[str]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    parsed = []
    for text in addresses:
        try:
            parsed.append(ipaddress.ip_address(text))
        except ValueError:
            raise AdvertiseError(
                f"--interface {text!r} is not an IP address; give the address of an interface, "
                "e.g. --interface 192.168.1.20"
            ) from None
    return parsed


class Advertiser:
    """Registers one agent on the local network for as long as it runs.

    `addresses` are the IPs to advertise and to bind zeroconf to; empty means every interface (and every
    non-loopback IPv4 address is advertised).
    """

    def __init__(
        self, *, host_id: str, port: int, txt: Mapping[str, str], addresses: Sequence[str] = ()
    ) -> None:
        check_txt(txt)
        if not 0 < port < 65536:
            raise AdvertiseError(f"cannot advertise port {port}: the agent must be listening first")
        self.host_id = host_id
        self.port = port
        self.txt = dict(txt)
        self.addresses = tuple(addresses)
        self._parsed = _parse_addresses(self.addresses)
        self.instance = instance_name(host_id)
        self.name = f"{self.instance}.{SERVICE_TYPE}"
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._announcing: Awaitable[Any] | None = None

    @property
    def running(self) -> bool:
        return self._info is not None

    def _service_info(self) -> AsyncServiceInfo:
        advertised = self._parsed or _parse_addresses(_local_ipv4_addresses())
        return AsyncServiceInfo(
            SERVICE_TYPE,
            self.name,
            port=self.port,
            properties=self.txt,
            server=f"wattfleet-{self.instance}.local.",
            addresses=[a.packed for a in advertised],
        )

    async def start(self) -> None:
        """Register the service; on any failure nothing is left registered or open."""
        if self._zc is not None:
            return
        if self._parsed:
            has_v6 = any(a.version == 6 for a in self._parsed)
            has_v4 = any(a.version == 4 for a in self._parsed)
            version = IPVersion.All if has_v6 and has_v4 else IPVersion.V6Only if has_v6 else IPVersion.V4Only
            zc = AsyncZeroconf(interfaces=[str(a) for a in self._parsed], ip_version=version)
        else:
            zc = AsyncZeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
        info = self._service_info()
        loop = asyncio.get_running_loop()
        # Zeroconf probes for about 1.2 s before it announces; our own name check runs meanwhile and ends
        # first, so a taken name cancels the registration before anything was announced.
        check = loop.create_task(self._name_taken(zc))
        probe = loop.create_task(zc.async_register_service(info))
        try:
            if await check:
                raise NonUniqueNameException(self.name)
            announcing = await probe
        except NonUniqueNameException:
            await _cancel(probe)
            await zc.async_close()  # also withdraws the service, had it been registered after all
            raise AdvertiseError(
                f"another agent already advertises {self.name!r} on this network; give this agent a "
                "distinct --host-id"
            ) from None
        except BaseException:
            await _cancel(check)
            await _cancel(probe)
            await zc.async_close()
            raise
        # The three announcements go on in the background; the service already answers queries.
        self._announcing = announcing
        self._zc, self._info = zc, info
        where = ", ".join(self.addresses) or "all interfaces"
        log.info("advertising %s on port %d (%s)", self.name, self.port, where)

    async def _name_taken(self, zc: AsyncZeroconf) -> bool:
        """Ask the network (multicast, so every listener hears the answer) whether our name is in use.

        Zeroconf's own probe asks for unicast replies, which another responder on the same host may
        receive instead of us; this check also catches a duplicate host id on one machine.
        """
        other = AsyncServiceInfo(SERVICE_TYPE, self.name)
        return await other.async_request(zc.zeroconf, _NAME_CHECK_MS, question_type=DNSQuestionType.QM)

    async def update(self, txt: Mapping[str, str]) -> None:
        """Publish a new TXT record (for example after the device summary changed)."""
        check_txt(txt)
        self.txt = dict(txt)
        if self._zc is None or self._info is None:
            return
        info = self._service_info()
        await (await self._zc.async_update_service(info))
        self._info = info

    async def stop(self) -> None:
        """Send goodbyes for the service, then close zeroconf. Safe to call twice."""
        zc, info, announcing = self._zc, self._info, self._announcing
        self._zc = self._info = self._announcing = None
        if zc is None:
            return
        try:
            if announcing is not None:
                await _cancel(announcing)
            if info is not None:
                await (await zc.async_unregister_service(info))
        finally:
            await zc.async_close()
        log.info("stopped advertising %s", self.name)


async def _cancel(work: Awaitable[Any]) -> None:
    """Cancel a task or future and wait until it has ended (without swallowing our own cancellation)."""
    future = asyncio.ensure_future(work)
    future.cancel()
    await asyncio.wait([future])
    if not future.cancelled() and future.exception() is not None:
        log.debug("zeroconf work ended with %r before it could be cancelled", future.exception())
