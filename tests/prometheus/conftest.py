"""The `fleet` fixture: one real fleet (agents, `wattfleet sd`, Prometheus) for the session (promfleet.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from promfleet import Fleet, run_fleet
from promserver import PROMETHEUS, SKIP_REASON


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if PROMETHEUS is None:
        pytest.skip(SKIP_REASON)
    yield from run_fleet(tmp_path_factory.mktemp("prom-fleet"))
