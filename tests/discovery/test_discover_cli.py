"""`wattfleet discover` as a user runs it: a table, JSON, and --watch following agents come and go."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from pathlib import Path

from wattfleet.agent.service.advertise import Advertiser, build_txt

from .conftest import LOOPBACK

CLI = (sys.executable, "-m", "wattfleet.core.cli", "discover")
C_CORE_LINE = re.compile(r"^[EWID]\d{4} \d\d:\d\d:\d\d\.\d+ |absl::InitializeLog|ev_poll_posix", re.MULTILINE)


def _advertiser(host_id: str, port: int, *, auth: bool = True) -> Advertiser:
    txt = build_txt(agent_version="0.1.0", host_id=host_id, device_summary="cpu:1", auth_required=auth, tls=False)
    return Advertiser(host_id=host_id, port=port, txt=txt, addresses=[LOOPBACK])


async def _discover(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_table_and_json_list_advertised_agents_with_inventory(tmp_path: Path, run_id: str) -> None:
    inventory = tmp_path / "fleet.toml"
    inventory.write_text(f'[[agents]]\nname = "{run_id}-far"\naddress = "10.9.8.7"\nport = 6000\n')
    ad = _advertiser(f"{run_id}-near", 45401, auth=False)
    await ad.start()
    try:
        rc, out, err = await _discover("--interface", LOOPBACK, "--timeout-s", "2", "--inventory", str(inventory))
        assert rc == 0, err
        lines = out.splitlines()
        assert lines[0].split() == ["HOST", "ID", "ADDRESS", "VERSION", "API", "DEVICES", "AUTH", "TLS", "SOURCE"]
        near = next(line for line in lines if f"{run_id}-near" in line).split()
        assert near == [f"{run_id}-near", f"{LOOPBACK}:45401", "0.1.0", "wattfleet.v1", "cpu:1", "none", "no", "mdns"]
        far = next(line for line in lines if f"{run_id}-far" in line).split()
        assert far == [f"{run_id}-far", "10.9.8.7:6000", "-", "-", "-", "none", "no", "inventory"]

        rc, out, err = await _discover("--interface", LOOPBACK, "--timeout-s", "2", "--json")
        assert rc == 0, err
        [row] = [r for r in json.loads(out) if r["host_id"] == f"{run_id}-near"]
        assert (row["addresses"], row["port"], row["auth_required"], row["tls"]) == ([LOOPBACK], 45401, False, False)
    finally:
        await ad.stop()


async def test_watch_prints_appear_and_vanish_until_interrupted(run_id: str) -> None:
    host_id = f"{run_id}-watched"
    proc = await asyncio.create_subprocess_exec(
        *CLI, "--watch", "--interface", LOOPBACK, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None

    async def line_about(host: str) -> str:
        while True:
            line = (await proc.stdout.readline()).decode()  # type: ignore[union-attr]
            if not line:
                raise AssertionError("discover --watch ended early")
            if host in line:
                return line

    ad = _advertiser(host_id, 45402)
    try:
        await asyncio.sleep(0.5)  # let the command start browsing (it would also find an earlier agent)
        await ad.start()
        added = (await asyncio.wait_for(line_about(host_id), 10)).split()
        assert added[:4] == ["+", "added", host_id, f"{LOOPBACK}:45402"]
        await ad.stop()
        removed = (await asyncio.wait_for(line_about(host_id), 10)).split()
        assert removed[:3] == ["-", "removed", host_id]
    finally:
        await ad.stop()
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        rc = await asyncio.wait_for(proc.wait(), 15)
    assert rc == 130
    stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert "Traceback" not in stderr, stderr


async def test_bad_arguments_fail_with_one_line() -> None:
    rc, out, err = await _discover("--no-mdns", "--inventory", "/nonexistent/fleet.toml")
    assert rc == 2 and out == ""
    assert err.strip() == (
        "wattfleet discover: inventory /nonexistent/fleet.toml: no such file; check the path given to --inventory"
    )
    rc, _out, err = await _discover("--timeout-s", "0")
    assert rc == 2 and "--timeout-s must be positive" in err


async def test_info_exits_1_and_names_the_agents_whose_getinfo_failed(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind((LOOPBACK, 0))
        dead_port = s.getsockname()[1]
    inventory = tmp_path / "fleet.toml"
    inventory.write_text(f'[[agents]]\nname = "gone-host"\naddress = "{LOOPBACK}"\nport = {dead_port}\n')
    rc, out, err = await _discover("--no-mdns", "--inventory", str(inventory), "--info")
    assert rc == 1
    assert "GetInfo failed: " in out and "UNAVAILABLE" in out
    assert err.strip() == "wattfleet discover: GetInfo failed on 1 of 1 agent(s): gone-host (see above)"
    assert not C_CORE_LINE.search(err), err  # a refused connection logs nothing from gRPC's C core

    credentials = tmp_path / "creds.toml"
    credentials.write_text('[hosts]\n"gone-host" = { token_file = "tokens/gone" }\n')
    rc, out, err = await _discover("--no-mdns", "--inventory", str(inventory), "--info", "--credentials",
                                   str(credentials))
    assert rc == 2 and out == ""
    assert err.strip() == (
        f"wattfleet discover: credentials {credentials}: hosts.gone-host: token file {tmp_path / 'tokens' / 'gone'} "
        "does not exist; copy the agent's token there (the agent prints its token file when it starts) or fix the path"
    )


async def test_an_agent_of_another_api_version_is_listed_as_such_not_as_a_normal_agent(run_id: str) -> None:
    txt = build_txt(agent_version="9.0.0", host_id=f"{run_id}-future", device_summary="cpu:1", auth_required=True,
                    tls=False)
    txt["api"] = "wattfleet.v9"  # an agent from the future, advertising a wire API this client does not speak
    ad = Advertiser(host_id=f"{run_id}-future", port=45409, txt=txt, addresses=[LOOPBACK])
    await ad.start()
    try:
        rc, out, err = await _discover("--interface", LOOPBACK, "--timeout-s", "2")
        assert rc == 0, err
        row = next(line for line in out.splitlines() if f"{run_id}-future" in line)
        assert "wattfleet.v9 (not supported)" in row
        rc, out, err = await _discover("--interface", LOOPBACK, "--timeout-s", "2", "--json", "--info")
        [found] = [r for r in json.loads(out) if r["host_id"] == f"{run_id}-future"]
        assert found["api"] == "wattfleet.v9" and found["api_supported"] is False
        assert "speaks API 'wattfleet.v9'" in found["info"]["error"]  # not called as if it were one of ours
        assert rc == 1 and f"{run_id}-future" in err
    finally:
        await ad.stop()


def test_link_local_ipv6_addresses_keep_their_scope_or_are_left_out() -> None:
    from wattfleet.tui.fleet.endpoints import AgentEndpoint, usable_address

    assert usable_address("fe80::1%eth0") and not usable_address("fe80::1")
    assert usable_address("2001:db8::1") and usable_address("10.0.0.5") and usable_address("gpu-7.lab")
    ep = AgentEndpoint("h", ("fe80::1%eth0", "2001:db8::1"), 50551)
    assert ep.target == "[2001:db8::1]:50551"  # a global address is preferred over a link-local one
    assert AgentEndpoint("h", ("fe80::1%eth0",), 50551).target == "[fe80::1%eth0]:50551"
