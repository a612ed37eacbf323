"""The inventory file: what a good one gives, and the one-line errors a bad one gets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wattfleet.core.errors import ConfigError
from wattfleet.tui.fleet.directory import AgentDirectory
from wattfleet.tui.fleet.inventory import load_inventory


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_inventory_entries_become_endpoints(tmp_path: Path) -> None:
    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "orin").write_text("t0k\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    path = _write(tmp_path, """
[[agents]]
name = "orin-rack2"
address = "10.20.0.14"
port = 50551
token_file = "tokens/orin"
tls_ca = "ca.pem"
labels = { rack = "2", site = "lab" }

[[agents]]
name = "h100-a"
address = "gpu-a.example.net"
port = 6000

[[agents]]
name = "v6"
address = "[fd00::7]"
port = 50551
""")
    orin, h100, v6 = load_inventory(path)
    assert orin.name == "orin-rack2" and orin.source == "inventory" and orin.host_id == ""
    assert orin.target == "10.20.0.14:50551"
    assert orin.token_file == tmp_path / "tokens" / "orin" and orin.tls_ca == tmp_path / "ca.pem"
    assert orin.auth_required and orin.tls
    assert orin.label_map == {"rack": "2", "site": "lab"}
    assert h100.target == "gpu-a.example.net:6000" and not h100.auth_required and not h100.tls
    assert v6.target == "[fd00::7]:50551"
    assert orin.key != h100.key


async def test_directory_without_browser_lists_the_inventory(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[agents]]\nname = "b"\naddress = "10.0.0.2"\nport = 1\n'
                            '[[agents]]\nname = "a"\naddress = "10.0.0.1"\nport = 1\n')
    async with AgentDirectory(None, load_inventory(path)) as directory:
        assert [e.name for e in directory.snapshot()] == ["a", "b"]
        assert [e.name for e in await directory.wait_for(2, 0.1)] == ["a", "b"]
        events = directory.events()
        seen = [await anext(events), await anext(events)]
    assert [(ev.kind, ev.endpoint.name) for ev in seen] == [("added", "a"), ("added", "b")]
    assert [ev async for ev in events] == []  # closing the directory ends the stream


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[agents]]\nname = "a"\naddress = "10.0.0.1"\nport = \n', r"not valid TOML \(.*line 4"),
        ("title = 'x'\n", r"unknown top-level key 'title'"),
        ("", r"no \[\[agents\]\] entries"),
        ('agents = "x"\n', r"'agents' must be an array of tables"),
        ('[[agents]]\nname = "a"\nport = 1\n', r"agents\[0\]: missing key 'address'"),
        ('[[agents]]\nname = "a"\naddress = "h"\nport = 1\nprot = 2\n', r"agents\[0\]: unknown key 'prot'"),
        ('[[agents]]\nname = "a"\naddress = "10.0.0.1"\nport = 70000\n', r"agents\[0\]\.port: expected an integer"),
        ('[[agents]]\nname = "a"\naddress = "10.0.0.1"\nport = true\n', r"agents\[0\]\.port: expected an integer"),
        ('[[agents]]\nname = "a"\naddress = "10.0.0.1:50551"\nport = 1\n', r"includes a port"),
        ('[[agents]]\nname = "a"\naddress = "grpc://h"\nport = 1\n', r"is a URL"),
        ('[[agents]]\nname = "a"\naddress = "bad host"\nport = 1\n', r"neither an IP address nor a valid DNS"),
        ('[[agents]]\nname = "a"\naddress = "h"\nport = 1\ntoken_file = "nope"\n',
         r"agents\[0\]\.token_file: .*nope does not exist"),
        ('[[agents]]\nname = "a"\naddress = "h"\nport = 1\nlabels = { a = 1 }\n', r"agents\[0\]\.labels"),
        ('[[agents]]\nname = "a"\naddress = "h"\nport = 1\n[[agents]]\nname = "a"\naddress = "g"\nport = 2\n',
         r"agents\[1\] name 'a' is already used by agents\[0\]"),
    ],
)
def test_malformed_inventory_names_file_entry_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert message.startswith(f"inventory {path}") and "\n" not in message


def test_missing_inventory_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file; check the path"):
        load_inventory(tmp_path / "absent.toml")


def test_discover_with_malformed_inventory_fails_in_one_line_before_browsing(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[agents]]\nname = "a"\naddress = "10.0.0.1"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "wattfleet.core.cli", "discover", "--inventory", str(path), "--timeout-s", "30"],
        capture_output=True, text=True, timeout=25,
    )
    # A 30 s browse would outlast the 25 s timeout above: returning at all shows it never started one.
    assert proc.returncode == 2, proc.stderr  # bad input
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(path) in lines[0] and "missing key 'port'" in lines[0]
    assert proc.stdout == ""
