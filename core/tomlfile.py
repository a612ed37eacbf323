"""Reading a TOML file we were given (an inventory, a credentials or budget file): one door, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (JetPack 6)
    import tomli as tomllib


def read_toml(path: Path, what: str, flag: str) -> dict[str, Any]:
    """The decoded document; a ConfigError naming `what` (e.g. "inventory") and the file, and saying which
    flag gave the path, when it is missing, unreadable or not TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path}: no such file; check the path given to {flag}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({exc}); check its permissions") from None
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path}: not valid TOML ({exc}); fix the syntax there") from None
    return doc
