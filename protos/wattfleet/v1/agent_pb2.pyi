from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeviceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_KIND_UNSPECIFIED: _ClassVar[DeviceKind]
    DEVICE_KIND_GPU: _ClassVar[DeviceKind]
    DEVICE_KIND_SOC: _ClassVar[DeviceKind]
    DEVICE_KIND_CPU: _ClassVar[DeviceKind]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_QUEUED: _ClassVar[RunState]
    RUN_STATE_PREPARING: _ClassVar[RunState]
    RUN_STATE_WARMUP: _ClassVar[RunState]
    RUN_STATE_MEASURING: _ClassVar[RunState]
    RUN_STATE_COMPLETED: _ClassVar[RunState]
    RUN_STATE_FAILED: _ClassVar[RunState]
    RUN_STATE_CANCELLED: _ClassVar[RunState]
    RUN_STATE_INTERRUPTED: _ClassVar[RunState]
DEVICE_KIND_UNSPECIFIED: DeviceKind
DEVICE_KIND_GPU: DeviceKind
DEVICE_KIND_SOC: DeviceKind
DEVICE_KIND_CPU: DeviceKind
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_QUEUED: RunState
RUN_STATE_PREPARING: RunState
RUN_STATE_WARMUP: RunState
RUN_STATE_MEASURING: RunState
RUN_STATE_COMPLETED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_CANCELLED: RunState
RUN_STATE_INTERRUPTED: RunState

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Device(_message.Message):
    __slots__ = ("kind", "index", "name", "uuid", "memory_bytes", "power_limit_w", "driver", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_W_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    kind: DeviceKind
    index: int
    name: str
    uuid: str
    memory_bytes: int
    power_limit_w: float
    driver: str
    details: _containers.ScalarMap[str, str]
    def __init__(self, kind: _Optional[_Union[DeviceKind, str]] = ..., index: _Optional[int] = ..., name: _Optional[str] = ..., uuid: _Optional[str] = ..., memory_bytes: _Optional[int] = ..., power_limit_w: _Optional[float] = ..., driver: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Runtime(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ExecutionProvider(_message.Message):
    __slots__ = ("name", "works", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    works: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., works: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class PowerSource(_message.Message):
    __slots__ = ("name", "domains", "available", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    domains: _containers.RepeatedScalarFieldContainer[str]
    available: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., domains: _Optional[_Iterable[str]] = ..., available: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("host_id", "hostname", "agent_version", "devices", "runtimes", "execution_providers", "power_sources", "labels", "started_unix_ns", "auth_required", "tls", "platform", "python")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    POWER_SOURCES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    AUTH_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    PYTHON_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    hostname: str
    agent_version: str
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    runtimes: _containers.RepeatedCompositeFieldContainer[Runtime]
    execution_providers: _containers.RepeatedCompositeFieldContainer[ExecutionProvider]
    power_sources: _containers.RepeatedCompositeFieldContainer[PowerSource]
    labels: _containers.ScalarMap[str, str]
    started_unix_ns: int
    auth_required: bool
    tls: bool
    platform: str
    python: str
    def __init__(self, host_id: _Optional[str] = ..., hostname: _Optional[str] = ..., agent_version: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., runtimes: _Optional[_Iterable[_Union[Runtime, _Mapping]]] = ..., execution_providers: _Optional[_Iterable[_Union[ExecutionProvider, _Mapping]]] = ..., power_sources: _Optional[_Iterable[_Union[PowerSource, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., started_unix_ns: _Optional[int] = ..., auth_required: _Optional[bool] = ..., tls: _Optional[bool] = ..., platform: _Optional[str] = ..., python: _Optional[str] = ...) -> None: ...

class ListProfilesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Profile(_message.Message):
    __slots__ = ("name", "description", "model", "scenario", "provider", "toml")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    TOML_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    model: str
    scenario: str
    provider: str
    toml: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., scenario: _Optional[str] = ..., provider: _Optional[str] = ..., toml: _Optional[str] = ...) -> None: ...

class ListProfilesResponse(_message.Message):
    __slots__ = ("profiles",)
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ...) -> None: ...

class RunSpec(_message.Message):
    __slots__ = ("profile", "profile_toml", "overrides", "labels", "device")
    class OverridesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_TOML_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    profile: str
    profile_toml: str
    overrides: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    device: str
    def __init__(self, profile: _Optional[str] = ..., profile_toml: _Optional[str] = ..., overrides: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., device: _Optional[str] = ...) -> None: ...

class RunHandle(_message.Message):
    __slots__ = ("run_id", "state", "queue_position")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    state: RunState
    queue_position: int
    def __init__(self, run_id: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., queue_position: _Optional[int] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class Figure(_message.Message):
    __slots__ = ("name", "value", "unit", "domain", "definition", "low_confidence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    LOW_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    unit: str
    domain: str
    definition: str
    low_confidence: bool
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., unit: _Optional[str] = ..., domain: _Optional[str] = ..., definition: _Optional[str] = ..., low_confidence: _Optional[bool] = ...) -> None: ...

class RunRecord(_message.Message):
    __slots__ = ("run_id", "state", "profile", "started_unix_ns", "ended_unix_ns", "host_id", "figures", "error", "record_json", "labels", "last_seq")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    ENDED_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    state: RunState
    profile: str
    started_unix_ns: int
    ended_unix_ns: int
    host_id: str
    figures: _containers.RepeatedCompositeFieldContainer[Figure]
    error: str
    record_json: str
    labels: _containers.ScalarMap[str, str]
    last_seq: int
    def __init__(self, run_id: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., profile: _Optional[str] = ..., started_unix_ns: _Optional[int] = ..., ended_unix_ns: _Optional[int] = ..., host_id: _Optional[str] = ..., figures: _Optional[_Iterable[_Union[Figure, _Mapping]]] = ..., error: _Optional[str] = ..., record_json: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., last_seq: _Optional[int] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunRecord]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunRecord, _Mapping]]] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("run_id", "after_seq")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    after_seq: int
    def __init__(self, run_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class PhaseChange(_message.Message):
    __slots__ = ("state", "detail")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    state: RunState
    detail: str
    def __init__(self, state: _Optional[_Union[RunState, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("fraction", "queries_done", "tokens_done", "elapsed_s", "detail")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    QUERIES_DONE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_DONE_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    queries_done: int
    tokens_done: int
    elapsed_s: float
    detail: str
    def __init__(self, fraction: _Optional[float] = ..., queries_done: _Optional[int] = ..., tokens_done: _Optional[int] = ..., elapsed_s: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class TokenBatch(_message.Message):
    __slots__ = ("request_id", "token_index", "t_ns")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_INDEX_FIELD_NUMBER: _ClassVar[int]
    T_NS_FIELD_NUMBER: _ClassVar[int]
    request_id: _containers.RepeatedScalarFieldContainer[int]
    token_index: _containers.RepeatedScalarFieldContainer[int]
    t_ns: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, request_id: _Optional[_Iterable[int]] = ..., token_index: _Optional[_Iterable[int]] = ..., t_ns: _Optional[_Iterable[int]] = ...) -> None: ...

class QueryBatch(_message.Message):
    __slots__ = ("request_id", "scheduled_ns", "issued_ns", "first_token_ns", "done_ns", "n_out")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_NS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_NS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TOKEN_NS_FIELD_NUMBER: _ClassVar[int]
    DONE_NS_FIELD_NUMBER: _ClassVar[int]
    N_OUT_FIELD_NUMBER: _ClassVar[int]
    request_id: _containers.RepeatedScalarFieldContainer[int]
    scheduled_ns: _containers.RepeatedScalarFieldContainer[int]
    issued_ns: _containers.RepeatedScalarFieldContainer[int]
    first_token_ns: _containers.RepeatedScalarFieldContainer[int]
    done_ns: _containers.RepeatedScalarFieldContainer[int]
    n_out: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, request_id: _Optional[_Iterable[int]] = ..., scheduled_ns: _Optional[_Iterable[int]] = ..., issued_ns: _Optional[_Iterable[int]] = ..., first_token_ns: _Optional[_Iterable[int]] = ..., done_ns: _Optional[_Iterable[int]] = ..., n_out: _Optional[_Iterable[int]] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("level", "message")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    level: str
    message: str
    def __init__(self, level: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ("seq", "t_ns", "phase", "progress", "tokens", "queries", "summary", "notice")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    T_NS_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    t_ns: int
    phase: PhaseChange
    progress: Progress
    tokens: TokenBatch
    queries: QueryBatch
    summary: RunRecord
    notice: Notice
    def __init__(self, seq: _Optional[int] = ..., t_ns: _Optional[int] = ..., phase: _Optional[_Union[PhaseChange, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., tokens: _Optional[_Union[TokenBatch, _Mapping]] = ..., queries: _Optional[_Union[QueryBatch, _Mapping]] = ..., summary: _Optional[_Union[RunRecord, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ...) -> None: ...

class StreamTelemetryRequest(_message.Message):
    __slots__ = ("interval_s", "after_seq")
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    interval_s: float
    after_seq: int
    def __init__(self, interval_s: _Optional[float] = ..., after_seq: _Optional[int] = ...) -> None: ...

class PowerSample(_message.Message):
    __slots__ = ("source", "domain", "t_ns", "power_w", "energy_j", "missing")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    T_NS_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    ENERGY_J_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    source: str
    domain: str
    t_ns: int
    power_w: float
    energy_j: float
    missing: bool
    def __init__(self, source: _Optional[str] = ..., domain: _Optional[str] = ..., t_ns: _Optional[int] = ..., power_w: _Optional[float] = ..., energy_j: _Optional[float] = ..., missing: _Optional[bool] = ...) -> None: ...

class DeviceSample(_message.Message):
    __slots__ = ("device", "t_ns", "utilization_pct", "memory_used_bytes", "temperature_c", "sm_clock_mhz", "mem_clock_mhz", "power_limit_w", "throttle_reasons")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    T_NS_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PCT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    SM_CLOCK_MHZ_FIELD_NUMBER: _ClassVar[int]
    MEM_CLOCK_MHZ_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_W_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_REASONS_FIELD_NUMBER: _ClassVar[int]
    device: str
    t_ns: int
    utilization_pct: float
    memory_used_bytes: float
    temperature_c: float
    sm_clock_mhz: float
    mem_clock_mhz: float
    power_limit_w: float
    throttle_reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device: _Optional[str] = ..., t_ns: _Optional[int] = ..., utilization_pct: _Optional[float] = ..., memory_used_bytes: _Optional[float] = ..., temperature_c: _Optional[float] = ..., sm_clock_mhz: _Optional[float] = ..., mem_clock_mhz: _Optional[float] = ..., power_limit_w: _Optional[float] = ..., throttle_reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class TelemetryBatch(_message.Message):
    __slots__ = ("seq", "power", "devices")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    power: _containers.RepeatedCompositeFieldContainer[PowerSample]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceSample]
    def __init__(self, seq: _Optional[int] = ..., power: _Optional[_Iterable[_Union[PowerSample, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[DeviceSample, _Mapping]]] = ...) -> None: ...
