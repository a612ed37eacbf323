"""Discovery tests run zeroconf on 127.0.0.1: on Linux loopback that needs nothing but `lo` up (no
MULTICAST flag, no 224.0.0.0/4 route) once zeroconf binds to the address. Other agents may be
advertising on this host at the same time, so every test names its own agents uniquely and looks only
for those."""

from __future__ import annotations

import uuid

import pytest

LOOPBACK = "127.0.0.1"


@pytest.fixture
def run_id() -> str:
    """A short prefix unique to this test, for host ids and namespace names."""
    return f"t{uuid.uuid4().hex[:8]}"
