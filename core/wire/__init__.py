"""The one door to the generated protobuf and gRPC code: the domain model (core/model/) to and from the wire.

Only this package imports `*_pb2`. Generated types travel under the `Pb` alias so a reader can tell wire
objects from ours at a glance. Each `x_to_proto` / `x_from_proto` pair converts one concept; enums map
through one table each (enums.py).

    info.py       GetInfo (AgentInfo, Device)
    records.py    RunSpec, RunHandle, Figure and the typed RunRecord
    chunks.py     the JSON record in chunks (GetRunRecord)
    events.py     run events
    requests.py   profiles, lists and request messages
    telemetry.py  telemetry batches
    service.py    servicer base, stub, health, reflection
"""

from __future__ import annotations

from wattfleet.core.wire.chunks import (
    RecordAssembler,
    RecordRequest,
    encode_record,
    get_run_record_request,
    record_chunks,
)
from wattfleet.core.wire.enums import (
    DEVICE_KIND_NAMES,
    DEVICE_KINDS,
    DOMAIN_KIND_NAMES,
    DOMAIN_KINDS,
    ENCODING_NAMES,
    ENCODINGS,
    FILE_DESCRIPTOR,
    LEVEL_NAMES,
    LEVELS,
    METHOD_NAMES,
    METHODS,
    PROVIDER_NAMES,
    PROVIDERS,
    RECORD_CHUNK_BYTES,
    RUN_STATE_NAMES,
    RUN_STATES,
    SCENARIO_NAMES,
    SCENARIOS,
    SERVICE_NAME,
    domain_kind_to_proto,
    enum_table,
    optional,
    run_state_name,
    run_state_to_proto,
)
from wattfleet.core.wire.events import (
    event_seq,
    is_final_event,
    run_event_from_proto,
    run_event_proto,
)
from wattfleet.core.wire.info import (
    agent_info_from_proto,
    agent_info_to_proto,
    device_from_proto,
    device_to_proto,
)
from wattfleet.core.wire.records import (
    figure_from_proto,
    figure_to_proto,
    record_from_proto,
    record_to_proto,
    run_handle_from_proto,
    run_handle_to_proto,
    run_spec_from_proto,
    run_spec_to_proto,
)
from wattfleet.core.wire.requests import (
    TelemetryRequest,
    WatchRequest,
    cancel_run_request,
    get_info_request,
    get_run_request,
    list_limit_of,
    list_profiles_from_proto,
    list_profiles_request,
    list_profiles_response,
    list_runs_from_proto,
    list_runs_request,
    list_runs_response,
    run_id_of,
    stream_telemetry_request,
    watch_run_request,
)
from wattfleet.core.wire.service import (
    HEALTH_SERVICE_NAME,
    REFLECTION_SERVICE_NAMES,
    AgentServicerBase,
    Health,
    add_agent_servicer,
    add_reflection,
    agent_stub,
    health_status,
)
from wattfleet.core.wire.telemetry import (
    merge_telemetry,
    telemetry_batch_from_proto,
    telemetry_batch_to_proto,
)

__all__ = [
    "DEVICE_KINDS",
    "DEVICE_KIND_NAMES",
    "DOMAIN_KINDS",
    "DOMAIN_KIND_NAMES",
    "ENCODINGS",
    "ENCODING_NAMES",
    "FILE_DESCRIPTOR",
    "HEALTH_SERVICE_NAME",
    "LEVELS",
    "LEVEL_NAMES",
    "METHODS",
    "METHOD_NAMES",
    "PROVIDERS",
    "PROVIDER_NAMES",
    "RECORD_CHUNK_BYTES",
    "REFLECTION_SERVICE_NAMES",
    "RUN_STATES",
    "RUN_STATE_NAMES",
    "SCENARIOS",
    "SCENARIO_NAMES",
    "SERVICE_NAME",
    "AgentServicerBase",
    "Health",
    "RecordAssembler",
    "RecordRequest",
    "TelemetryRequest",
    "WatchRequest",
    "add_agent_servicer",
    "add_reflection",
    "agent_info_from_proto",
    "agent_info_to_proto",
    "agent_stub",
    "cancel_run_request",
    "device_from_proto",
    "device_to_proto",
    "domain_kind_to_proto",
    "encode_record",
    "enum_table",
    "event_seq",
    "figure_from_proto",
    "figure_to_proto",
    "get_info_request",
    "get_run_record_request",
    "get_run_request",
    "health_status",
    "is_final_event",
    "list_limit_of",
    "list_profiles_from_proto",
    "list_profiles_request",
    "list_profiles_response",
    "list_runs_from_proto",
    "list_runs_request",
    "list_runs_response",
    "merge_telemetry",
    "optional",
    "record_chunks",
    "record_from_proto",
    "record_to_proto",
    "run_event_from_proto",
    "run_event_proto",
    "run_handle_from_proto",
    "run_handle_to_proto",
    "run_id_of",
    "run_spec_from_proto",
    "run_spec_to_proto",
    "run_state_name",
    "run_state_to_proto",
    "stream_telemetry_request",
    "telemetry_batch_from_proto",
    "telemetry_batch_to_proto",
    "watch_run_request",
]
