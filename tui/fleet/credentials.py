"""The credentials file: which bearer token (and TLS CA) to use for which agent.

Agents that each generated their own token can then be run together (`wattfleet run --credentials`,
`wattfleet discover --info --credentials`, and the console):

```toml
[hosts]
"edge-7" = "tokens/edge-7"                    # a host id as the agent reports it -> its token file
"10.0.0.5:50551" = { token_file = "tokens/a", tls_ca = "ca.pem" }   # an address with its port
"gpu-node-3.lab" = "tokens/gpu3"              # an address (IP or DNS name), any port
```

Paths are relative to this file. A host is looked up by host id (or inventory name) first, then by
`address:port`, then by address. The whole file is read and every token file checked before anything
touches the network, so a bad entry stops the command with one line that names it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError
from wattfleet.core.tomlfile import read_toml

_ENTRY_KEYS = ("token_file", "tls_ca")


@dataclass(frozen=True)
class Credential:
    """One entry: the token read from its file, and the CA to verify the agent's TLS certificate by."""

    entry: str  # the key as written in the file
    token: str
    token_file: Path
    tls_ca: Path | None = None


@dataclass(frozen=True)
class Credentials:
    path: Path
    by_key: Mapping[str, Credential]  # normalised key -> credential

    def for_host(self, names: Iterable[str], addresses: Sequence[str], port: int) -> Credential | None:
        """The entry for an agent known by these names (host id, inventory name) and addresses."""
        given = [n for n in names if n]
        candidates = [*given, *(_normal_host(n) for n in given)]
        candidates += [_host_port(_normal_host(a), port) for a in addresses]
        candidates += [_normal_host(a) for a in addresses]
        for key in candidates:
            found = self.by_key.get(key)
            if found is not None:
                return found
        return None


def load_credentials(path: Path | str) -> Credentials:
    """Read and check a credentials file (every token file read). Raises ConfigError naming the entry."""
    path = Path(path)
    doc = read_toml(path, "credentials", "--credentials")
    return parse_credentials(doc, path)


def parse_credentials(doc: Mapping[str, Any], path: Path) -> Credentials:
    """Check a decoded credentials document; `path` names the file in errors and anchors relative paths."""
    extra = sorted(set(doc) - {"hosts"})
    if extra:
        raise ConfigError(f"credentials {path}: unknown top-level key {extra[0]!r}; the file holds one [hosts] table")
    hosts = doc.get("hosts")
    if not isinstance(hosts, dict) or not hosts:
        raise ConfigError(
            f'credentials {path}: no [hosts] entries; add one per agent, e.g. [hosts] "edge-7" = "tokens/edge-7"'
        )
    by_key: dict[str, Credential] = {}
    for key, value in hosts.items():
        where = f"credentials {path}: hosts.{_quoted(key)}"
        normal = _normal_key(key, where)
        if normal in by_key:
            raise ConfigError(f"{where}: the same host as hosts.{_quoted(by_key[normal].entry)}; keep one of them")
        by_key[normal] = _entry(key, value, where, path)
    return Credentials(path, by_key)


def _entry(key: str, value: object, where: str, path: Path) -> Credential:
    if isinstance(value, str):
        fields: dict[str, object] = {"token_file": value}
    elif isinstance(value, dict):
        fields = dict(value)
        unknown = sorted(set(fields) - set(_ENTRY_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}; an entry has token_file and, optionally, tls_ca")
        if "token_file" not in fields:
            raise ConfigError(f"{where}: missing token_file; name the file holding this agent's token")
    else:
        raise ConfigError(f'{where}: expected a token file path or a table {{ token_file = "..." }}, got {value!r}')
    token_file = _path(fields["token_file"], f"{where}.token_file", path)
    if not token_file.is_file():
        raise ConfigError(
            f"{where}: token file {token_file} does not exist; copy the agent's token there (the agent prints "
            "its token file when it starts) or fix the path"
        )
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read token file {token_file} ({exc}); check its permissions") from None
    if not token:
        raise ConfigError(f"{where}: token file {token_file} is empty; write the agent's token into it")
    tls_ca = None
    if fields.get("tls_ca") is not None:
        tls_ca = _path(fields["tls_ca"], f"{where}.tls_ca", path)
        if not tls_ca.is_file():
            raise ConfigError(f"{where}: TLS CA file {tls_ca} does not exist; fix the path or drop tls_ca")
    return Credential(key, token, token_file, tls_ca)


def _path(value: object, where: str, credentials: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a path string, got {value!r}")
    resolved = Path(value.strip()).expanduser()
    return resolved if resolved.is_absolute() else credentials.parent / resolved


def _quoted(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else f'"{key}"'


def _normal_host(host: str) -> str:
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.lower().rstrip(".")


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _normal_key(key: str, where: str) -> str:
    """host id | address | address:port | [v6]:port, in the form for_host() looks up."""
    text = key.strip()
    if not text:
        raise ConfigError(f"{where}: an empty key; write a host id, an address or address:port")
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            return _normal_host(text)
        return _host_port(_normal_host(host), _port(port, where))
    if text.count(":") == 1:
        host, _sep, port = text.partition(":")
        return _host_port(_normal_host(host), _port(port, where))
    if ":" not in text:
        return text if _is_host_id(text) else _normal_host(text)
    return _normal_host(text)  # an IPv6 address without a port


def _is_host_id(text: str) -> bool:
    """Host ids match as written; addresses (IPs, DNS names with dots) are normalised."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return "." not in text
    return False


def _port(text: str, where: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{where}: port {text!r} is not 1-65535; write address:port, e.g. 10.0.0.5:50551")
    return int(text)
