"""The inventory file: agents beyond the LAN, where mDNS does not reach.

```toml
[[agents]]
name = "orin-rack2"            # unique in the file
address = "10.20.0.14"         # IP or DNS name, no port
port = 50551
token_file = "tokens/orin"     # optional, relative to this file
tls_ca = "ca.pem"              # optional, relative to this file
labels = { rack = "2" }        # optional
metrics_port = 9400            # optional: the agent's --metrics-port, for `wattfleet sd`
```
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError
from wattfleet.core.tomlfile import read_toml
from wattfleet.tui.fleet.endpoints import AgentEndpoint

_REQUIRED = {"name": "a string", "address": "an IP address or DNS name", "port": "an integer 1-65535"}
_OPTIONAL = {"token_file": "a path", "tls_ca": "a path", "labels": "a table of strings",
             "metrics_port": "an integer 1-65535"}
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def load_inventory(path: Path | str) -> list[AgentEndpoint]:
    """Read and check an inventory file. Raises ConfigError naming the file, entry and key."""
    path = Path(path)
    doc = read_toml(path, "inventory", "--inventory")
    return parse_inventory(doc, path)


def parse_inventory(doc: Mapping[str, Any], path: Path) -> list[AgentEndpoint]:
    """Check a decoded inventory document; `path` names the file in errors and anchors relative paths."""
    extra = sorted(set(doc) - {"agents"})
    if extra:
        raise ConfigError(
            f"inventory {path}: unknown top-level key {extra[0]!r}; the file holds only [[agents]] tables"
        )
    agents = doc.get("agents")
    if agents is None:
        raise ConfigError(
            f"inventory {path}: no [[agents]] entries; add one per host with name, address and port"
        )
    if not isinstance(agents, list) or not all(isinstance(a, dict) for a in agents):
        raise ConfigError(f"inventory {path}: 'agents' must be an array of tables, written [[agents]]")
    endpoints: list[AgentEndpoint] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(agents):
        endpoint = _entry(entry, index, path)
        if endpoint.name in seen:
            raise ConfigError(
                f"inventory {path}: agents[{index}] name {endpoint.name!r} is already used by "
                f"agents[{seen[endpoint.name]}]; names must be unique"
            )
        seen[endpoint.name] = index
        endpoints.append(endpoint)
    return endpoints


def _entry(entry: Mapping[str, Any], index: int, path: Path) -> AgentEndpoint:
    where = f"inventory {path}: agents[{index}]"
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        allowed = ", ".join([*_REQUIRED, *_OPTIONAL])
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed keys are {allowed}")
    for key, expected in _REQUIRED.items():
        if key not in entry:
            raise ConfigError(f"{where}: missing key {key!r}; expected {expected}")
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: expected a non-empty string, got {name!r}")
    address = _address(entry["address"], f"{where}.address")
    port = entry["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}.port: expected an integer 1-65535, got {port!r}")
    metrics_port = entry.get("metrics_port", 0)
    if "metrics_port" in entry and (isinstance(metrics_port, bool) or not isinstance(metrics_port, int)
                                    or not 0 < metrics_port < 65536):
        raise ConfigError(f"{where}.metrics_port: expected an integer 1-65535, got {metrics_port!r}")
    token_file = _path(entry.get("token_file"), f"{where}.token_file", path)
    tls_ca = _path(entry.get("tls_ca"), f"{where}.tls_ca", path)
    labels = entry.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ConfigError(f'{where}.labels: expected a table of strings, e.g. labels = {{ rack = "2" }}')
    return AgentEndpoint(
        host_id="",
        addresses=(address,),
        port=port,
        auth_required=token_file is not None,
        tls=tls_ca is not None,
        source="inventory",
        name=name.strip(),
        token_file=token_file,
        tls_ca=tls_ca,
        labels=tuple(sorted(labels.items())),
        metrics_port=metrics_port,
    )


def _address(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected an IP address or DNS name, got {value!r}")
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if "://" in text or "/" in text:
        raise ConfigError(f"{where}: {value!r} is a URL; give only the host, e.g. address = \"10.0.0.5\"")
    if ":" in text:
        raise ConfigError(f"{where}: {value!r} includes a port; put the port in its own key: port = N")
    if not _HOSTNAME.match(text):
        raise ConfigError(f"{where}: {value!r} is neither an IP address nor a valid DNS name")
    return text


def _path(value: object, where: str, inventory: Path) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a path string, got {value!r}")
    resolved = Path(value).expanduser()
    if not resolved.is_absolute():
        resolved = inventory.parent / resolved
    if not resolved.is_file():
        raise ConfigError(f"{where}: {resolved} does not exist; create it or fix the path")
    return resolved
