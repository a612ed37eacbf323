"""Profiles, run lists and the small request messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wattfleet.core.model import (
    ProfileInfo,
    RunRecord,
)
from wattfleet.core.wire.enums import (
    PROVIDER_NAMES,
    PROVIDERS,
    SCENARIO_NAMES,
    SCENARIOS,
)
from wattfleet.core.wire.records import record_from_proto, record_to_proto
from wattfleet.v1 import agent_pb2 as Pb

# --- profiles and lists --------------------------------------------------------------------------


def _profile_to_proto(p: ProfileInfo) -> Any:
    return Pb.Profile(name=p.name, description=p.description, model=p.model,
                      scenario=SCENARIOS.get(p.scenario, Pb.SCENARIO_UNSPECIFIED),
                      provider=PROVIDERS.get(p.provider, Pb.PROVIDER_UNSPECIFIED), toml=p.toml)


def list_profiles_response(profiles: list[ProfileInfo]) -> Any:
    return Pb.ListProfilesResponse(profiles=[_profile_to_proto(p) for p in profiles])


def list_profiles_from_proto(msg: Any) -> list[ProfileInfo]:
    return [
        ProfileInfo(p.name, p.description, p.model, SCENARIO_NAMES.get(p.scenario, ""),
                    PROVIDER_NAMES.get(p.provider, ""), p.toml)
        for p in msg.profiles
    ]


def list_runs_response(runs: list[RunRecord]) -> Any:
    return Pb.ListRunsResponse(runs=[record_to_proto(r) for r in runs])


def list_runs_from_proto(msg: Any) -> list[RunRecord]:
    return [record_from_proto(r) for r in msg.runs]


def get_info_request() -> Any:
    return Pb.GetInfoRequest()


def list_profiles_request() -> Any:
    return Pb.ListProfilesRequest()


def cancel_run_request(run_id: str) -> Any:
    return Pb.CancelRunRequest(run_id=run_id)


def get_run_request(run_id: str) -> Any:
    return Pb.GetRunRequest(run_id=run_id)


def list_runs_request(limit: int = 0) -> Any:
    return Pb.ListRunsRequest(limit=limit)


def watch_run_request(run_id: str, after_seq: int = 0) -> Any:
    return Pb.WatchRunRequest(run_id=run_id, after_seq=after_seq)


def stream_telemetry_request(interval_s: float = 0.0, after_seq: int = 0) -> Any:
    return Pb.StreamTelemetryRequest(interval_s=interval_s, after_seq=after_seq)


@dataclass(frozen=True)
class TelemetryRequest:
    interval_s: float
    after_seq: int

    @classmethod
    def from_proto(cls, msg: Any) -> TelemetryRequest:
        return cls(float(msg.interval_s), int(msg.after_seq))


@dataclass(frozen=True)
class WatchRequest:
    run_id: str
    after_seq: int

    @classmethod
    def from_proto(cls, msg: Any) -> WatchRequest:
        return cls(str(msg.run_id), int(msg.after_seq))


def run_id_of(msg: Any) -> str:
    """The run_id of a CancelRunRequest or GetRunRequest."""
    return str(msg.run_id)


def list_limit_of(msg: Any) -> int:
    return int(msg.limit)


