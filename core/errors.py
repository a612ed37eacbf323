"""One exception base for wattfleet, so callers can catch ours and let the rest through."""

from __future__ import annotations


class WattfleetError(Exception):
    """Base of every error wattfleet raises on purpose. The message says what, where and what to do."""


class UsageError(WattfleetError):
    """Bad input from the person at the keyboard: a flag, a file, a value. Exit code 2."""


class ConfigError(WattfleetError):
    """A file we were given (profile, inventory, token, cert) is missing, unreadable or malformed."""
