"""Advertiser and browser in one process over real zeroconf on loopback: appear, update, vanish."""

from __future__ import annotations

import asyncio

import pytest

from wattfleet.agent.service.advertise import AdvertiseError, Advertiser, build_txt, instance_name
from wattfleet.tui.fleet.discovery import AgentDirectory, DiscoveryEvent, ZeroconfBrowser

from .conftest import LOOPBACK


def _txt(host_id: str, dev: str = "cpu:1") -> dict[str, str]:
    return build_txt(agent_version="9.8.7", host_id=host_id, device_summary=dev, auth_required=True, tls=False)


async def _next_for(events: object, host_id: str, timeout_s: float) -> DiscoveryEvent:
    """The next event about `host_id`, skipping other agents advertising on this host."""
    async def pick() -> DiscoveryEvent:
        async for event in events:  # type: ignore[attr-defined]
            if event.endpoint.host_id == host_id:
                return event
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(pick(), timeout_s)


async def test_agent_appears_updates_and_vanishes(run_id: str) -> None:
    host_id = f"{run_id}-one"
    advertiser = Advertiser(host_id=host_id, port=45123, txt=_txt(host_id), addresses=[LOOPBACK])
    async with AgentDirectory(ZeroconfBrowser([LOOPBACK])) as directory:
        events = directory.events()
        await advertiser.start()
        try:
            added = await _next_for(events, host_id, 5.0)
            assert added.kind == "added"
            ep = added.endpoint
            assert (ep.addresses, ep.port, ep.target) == ((LOOPBACK,), 45123, f"{LOOPBACK}:45123")
            assert (ep.agent_version, ep.device_summary, ep.auth_required, ep.tls) == ("9.8.7", "cpu:1", True, False)
            assert ep.source == "mdns" and ep.api == "wattfleet.v1"
            assert ep.name == f"{instance_name(host_id)}._wattfleet._tcp.local."
            assert [e.key for e in directory.snapshot() if e.host_id == host_id] == [ep.key]

            await advertiser.update(_txt(host_id, dev="gpu:2xH100"))
            updated = await _next_for(events, host_id, 5.0)
            assert updated.kind == "updated"
            assert updated.endpoint.device_summary == "gpu:2xH100"
        finally:
            await advertiser.stop()
        removed = await _next_for(events, host_id, 5.0)
        assert removed.kind == "removed"
        assert all(e.host_id != host_id for e in directory.snapshot())
        await advertiser.stop()  # a second stop is harmless
        assert not advertiser.running


async def test_wait_for_counts_only_matching_agents_and_times_out_with_advice(run_id: str) -> None:
    ads = [
        Advertiser(host_id=f"{run_id}-{i}", port=45200 + i, txt=_txt(f"{run_id}-{i}"), addresses=[LOOPBACK])
        for i in range(2)
    ]
    mine = {a.host_id for a in ads}
    async with AgentDirectory(ZeroconfBrowser([LOOPBACK])) as directory:
        await asyncio.gather(*(a.start() for a in ads))
        try:
            found = await directory.wait_for(2, 5.0, where=lambda e: e.host_id in mine)
            assert sorted((e.host_id, e.port) for e in found) == [(f"{run_id}-0", 45200), (f"{run_id}-1", 45201)]
            with pytest.raises(TimeoutError, match=r"within 0\.3 s via zeroconf on 127\.0\.0\.1"):
                await directory.wait_for(3, 0.3, where=lambda e: e.host_id in mine)
        finally:
            await asyncio.gather(*(a.stop() for a in ads))


async def test_second_agent_with_same_host_id_is_refused_and_leaves_no_record(run_id: str) -> None:
    host_id = f"{run_id}-dup"
    first = Advertiser(host_id=host_id, port=45301, txt=_txt(host_id), addresses=[LOOPBACK])
    second = Advertiser(host_id=host_id, port=45302, txt=_txt(host_id), addresses=[LOOPBACK])
    async with AgentDirectory(ZeroconfBrowser([LOOPBACK])) as directory:
        await first.start()
        try:
            await directory.wait_for(1, 5.0, where=lambda e: e.host_id == host_id)
            # A responder multicasts a record at most once a second (RFC 6762 section 6); the first one
            # just announced, so give it that second before asking for the name again.
            await asyncio.sleep(1.1)
            with pytest.raises(AdvertiseError, match="distinct --host-id"):
                await second.start()
            assert not second.running
            [seen] = await directory.wait_for(1, 5.0, where=lambda e: e.host_id == host_id)
            assert seen.port == 45301
        finally:
            await first.stop()
        await directory.wait_until(lambda eps: all(e.host_id != host_id for e in eps), 5.0)


def test_txt_refuses_secrets_and_oversized_values() -> None:
    with pytest.raises(AdvertiseError, match="looks like a secret"):
        build_txt(agent_version="1", host_id="h", device_summary="s3cr3t-tok", auth_required=True, tls=False,
                  secrets=["s3cr3t-tok"])
    with pytest.raises(AdvertiseError, match="looks like a credential"):
        build_txt(agent_version="1", host_id="h", device_summary="", auth_required=True, tls=False,
                  extra={"token": "x"})
    with pytest.raises(AdvertiseError, match="looks like a secret"):
        Advertiser(host_id="h", port=1, txt={"note": "Bearer abc"})
    with pytest.raises(AdvertiseError, match="over the DNS limit"):
        build_txt(agent_version="1", host_id="h", device_summary="x" * 300, auth_required=False, tls=True)
    txt = build_txt(agent_version="1.2", host_id="h", device_summary="gpu:1xA100", auth_required=False, tls=True)
    assert txt == {"v": "1.2", "id": "h", "dev": "gpu:1xA100", "auth": "none", "tls": "1", "api": "wattfleet.v1"}


def test_instance_name_is_a_safe_dns_label() -> None:
    assert instance_name("Orin Nano.lab/7") == "Orin-Nano-lab-7"
    assert len(instance_name("x" * 100)) == 63
    assert instance_name("...") == "wattfleet-agent"
