"""The fake NVML for other processes (an agent, a helper that is killed): fake_nvml.FakeNvml on the real
clock, with each GPU's power limit kept in a JSON file so that it outlives the process, as the NVIDIA
driver keeps a limit when the process that set it dies.

    WATTFLEET_NVML_MODULE=telemetry.fake_nvml_process:nvml  FAKE_NVML_STATE=/tmp/x/nvml.json
    PYTHONPATH=<repo>/tests   (so that `telemetry.fake_nvml_process` imports)

The state file: {"gpus": [{"uuid": ..., "limit_mw": ..., "limit_min_mw": ..., "limit_max_mw": ...,
"limit_supported": true, "limit_settable": true, "limits_set": [...]}]}; `limits_set` grows with every
limit set, from any process.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

try:
    from .fake_nvml import FakeGpu, FakeNvml
except ImportError:  # imported by name in another process (see the module docstring)
    from telemetry.fake_nvml import FakeGpu, FakeNvml  # type: ignore[no-redef]

STATE_ENV = "FAKE_NVML_STATE"
_KEPT = ("uuid", "name", "limit_mw", "limit_min_mw", "limit_max_mw", "default_limit_mw", "limit_supported",
         "limit_settable")


def write_state(path: Path, gpus: list[dict[str, Any]]) -> None:
    """A new state file for GPUs given as FakeGpu keyword arguments (those in _KEPT)."""
    path.write_text(json.dumps({"gpus": [{**g, "limits_set": []} for g in gpus]}))


def read_state(path: Path) -> list[dict[str, Any]]:
    gpus: list[dict[str, Any]] = json.loads(path.read_text())["gpus"]
    return gpus


class FileNvml(FakeNvml):
    """FakeNvml whose power limits live in `path` (read at start, written on every set)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        gpus = [FakeGpu(**{k: v for k, v in g.items() if k in _KEPT}) for g in read_state(path)]
        super().__init__(gpus, tick_s=0.01, clock=time.monotonic)

    def nvmlDeviceSetPowerManagementLimit(self, handle: int, limit: int) -> None:
        super().nvmlDeviceSetPowerManagementLimit(handle, limit)
        state = read_state(self.path)
        state[handle]["limit_mw"] = int(limit)
        state[handle]["limits_set"].append(int(limit))
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"gpus": state}))
        tmp.replace(self.path)  # atomic: a kill -9 leaves the old state or the new one


nvml = FileNvml(Path(os.environ[STATE_ENV])) if STATE_ENV in os.environ else None
