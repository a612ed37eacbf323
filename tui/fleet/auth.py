"""Which token and TLS CA to use for one agent: its credentials-file entry, else its inventory entry's token
file, else the command line's. Pure (shared by `discover`, `run` and the console)."""

from __future__ import annotations

from pathlib import Path

from wattfleet.core.errors import ConfigError
from wattfleet.tui.fleet.credentials import Credentials
from wattfleet.tui.fleet.endpoints import AgentEndpoint


def read_token(path: Path) -> str:
    """The token in a file; ConfigError naming the file when it cannot be read or is empty."""
    try:
        token = path.read_bytes().decode("utf-8", "replace").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.strerror or exc}") from exc
    if not token:
        raise ConfigError(f"token file {path} is empty; write the agent's token into it")
    return token


def endpoint_auth(
    endpoint: AgentEndpoint, token: str | None, tls_ca: Path | None, credentials: Credentials | None
) -> tuple[str | None, Path | None]:
    """(token, TLS CA) for one agent: its --credentials entry, else its inventory entry's, else the flags'."""
    ca = endpoint.tls_ca or (tls_ca if endpoint.tls else None)
    entry = credentials.for_host((endpoint.host_id, endpoint.name), endpoint.addresses, endpoint.port) if (
        credentials is not None) else None
    if entry is not None:
        return entry.token, entry.tls_ca or ca
    if endpoint.token_file is not None:
        return read_token(endpoint.token_file), ca
    return token, ca
