"""Enums and the small helpers every part of the adapter shares: our names <-> wire values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wattfleet.core.model import (
    domain_kind,
)
from wattfleet.v1 import agent_pb2 as Pb

SERVICE_NAME: str = Pb.DESCRIPTOR.services_by_name["Agent"].full_name


FILE_DESCRIPTOR: Any = Pb.DESCRIPTOR
RECORD_CHUNK_BYTES = 1 << 20  # GetRunRecord sends the record in pieces of at most this many bytes

# --- enums: our names <-> wire values -------------------------------------------------------------


def enum_table(prefix: str, names: Iterable[str]) -> tuple[dict[str, Any], dict[Any, str]]:
    to = {n: int(getattr(Pb, prefix + n.upper().replace("-", "_"))) for n in names}
    return to, {v: k for k, v in to.items()}


DEVICE_KINDS, DEVICE_KIND_NAMES = enum_table("DEVICE_KIND_", ("gpu", "soc", "cpu"))
RUN_STATES, RUN_STATE_NAMES = enum_table(
    "RUN_STATE_", ("queued", "preparing", "warmup", "measuring", "completed", "failed", "cancelled", "interrupted")
)
SCENARIOS, SCENARIO_NAMES = enum_table("SCENARIO_", ("single-stream", "server", "offline", "concurrency", "sweep"))
PROVIDERS, PROVIDER_NAMES = enum_table("PROVIDER_", ("cpu", "cuda", "tensorrt", "tensorrt-native"))
LEVELS, LEVEL_NAMES = enum_table("NOTICE_LEVEL_", ("info", "warning", "error"))
DOMAIN_KINDS, DOMAIN_KIND_NAMES = enum_table(
    "DOMAIN_KIND_",
    ("gpu-board", "gpu-module", "soc-rail", "soc-input", "cpu-package", "cpu-dram", "wall", "hwmon", "estimated"),
)
METHODS, METHOD_NAMES = enum_table("ENERGY_METHOD_", ("counter", "integral", "none"))
ENCODINGS, ENCODING_NAMES = enum_table("RECORD_ENCODING_", ("json", "json-gzip"))


def run_state_to_proto(state: str) -> Any:
    return RUN_STATES.get(state, Pb.RUN_STATE_UNSPECIFIED)


def run_state_name(value: int) -> str:
    return RUN_STATE_NAMES.get(value, "unspecified")


def domain_kind_to_proto(domain: str) -> Any:
    return DOMAIN_KINDS.get(domain_kind(domain), Pb.DOMAIN_KIND_UNSPECIFIED)


def optional(msg: Any, name: str) -> Any:
    return getattr(msg, name) if msg.HasField(name) else None


def set_optional(msg: Any, **values: Any) -> Any:
    for name, value in values.items():
        if value is not None:
            setattr(msg, name, value)
    return msg

