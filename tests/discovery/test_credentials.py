"""The credentials file: host id or address -> token file (and TLS CA), read and checked up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattfleet.core.errors import ConfigError
from wattfleet.tui.fleet.credentials import load_credentials


def _tokens(root: Path, *names: str) -> None:
    (root / "tokens").mkdir(exist_ok=True)
    for name in names:
        (root / "tokens" / name).write_text(f"token-of-{name}\n")


def test_lookup_by_host_id_then_address_and_port_then_address(tmp_path: Path) -> None:
    _tokens(tmp_path, "edge-7", "a", "v6", "lab")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    path = tmp_path / "creds.toml"
    path.write_text(
        '[hosts]\n"edge-7" = "tokens/edge-7"\n'
        '"10.0.0.5:50551" = { token_file = "tokens/a", tls_ca = "ca.pem" }\n'
        '"[fe80::0:1]:6000" = "tokens/v6"\n'
        '"GPU-3.Lab." = "tokens/lab"\n'
    )
    creds = load_credentials(path)
    by_id = creds.for_host(("edge-7",), ("10.0.0.5",), 50551)  # the host id wins over the address
    assert by_id is not None and by_id.token == "token-of-edge-7" and by_id.tls_ca is None
    by_addr = creds.for_host(("", "inventory-name"), ("10.0.0.5",), 50551)
    assert by_addr is not None and by_addr.token == "token-of-a" and by_addr.tls_ca == tmp_path / "ca.pem"
    assert creds.for_host((), ("10.0.0.5",), 50552) is None  # another port is another agent
    v6 = creds.for_host((), ("fe80::1",), 6000)
    assert v6 is not None and v6.token_file == tmp_path / "tokens" / "v6"
    lab = creds.for_host((), ("gpu-3.lab",), 1234)  # an address without a port: any port, any case
    assert lab is not None and lab.entry == "GPU-3.Lab."
    assert creds.for_host(("edge-8",), ("10.9.9.9",), 50551) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[hosts]\n"edge-7" = "tokens/missing"\n',
         r"hosts.edge-7: token file .*/tokens/missing does not exist; copy the agent's token there"),
        ('[hosts]\n"edge-7" = "tokens/empty"\n', r"hosts.edge-7: token file .*/tokens/empty is empty"),
        ('[hosts]\n"edge-7" = { tls_ca = "ca.pem" }\n', r"hosts.edge-7: missing token_file"),
        ('[hosts]\n"edge-7" = { token_file = "tokens/ok", colour = "red" }\n', r"unknown key 'colour'"),
        ('[hosts]\n"edge-7" = { token_file = "tokens/ok", tls_ca = "nope.pem" }\n',
         r"hosts.edge-7: TLS CA file .*/nope.pem does not exist"),
        ('[hosts]\n"edge-7" = 5\n', r"hosts.edge-7: expected a token file path"),
        ('[hosts]\n"10.0.0.5:99999" = "tokens/ok"\n', r'hosts."10.0.0.5:99999": port \'99999\' is not 1-65535'),
        ('[hosts]\n"fe80::1" = "tokens/ok"\n"FE80:0::1" = "tokens/ok"\n', r"the same host as"),
        ('[agents]\nx = 1\n', r"unknown top-level key 'agents'"),
        ("[hosts]\n", r"no \[hosts\] entries"),
        ("hosts = [", r"not valid TOML"),
    ],
)
def test_bad_files_fail_in_one_line_naming_the_entry(tmp_path: Path, text: str, expected: str) -> None:
    _tokens(tmp_path, "ok")
    (tmp_path / "tokens" / "empty").write_text("\n")
    path = tmp_path / "creds.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_credentials(path)
    message = str(caught.value)
    assert message.startswith(f"credentials {path}") and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; check the path given to --credentials"):
        load_credentials(tmp_path / "absent.toml")
