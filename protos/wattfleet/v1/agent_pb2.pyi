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

class DomainKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOMAIN_KIND_UNSPECIFIED: _ClassVar[DomainKind]
    DOMAIN_KIND_GPU_BOARD: _ClassVar[DomainKind]
    DOMAIN_KIND_GPU_MODULE: _ClassVar[DomainKind]
    DOMAIN_KIND_SOC_RAIL: _ClassVar[DomainKind]
    DOMAIN_KIND_SOC_INPUT: _ClassVar[DomainKind]
    DOMAIN_KIND_CPU_PACKAGE: _ClassVar[DomainKind]
    DOMAIN_KIND_CPU_DRAM: _ClassVar[DomainKind]
    DOMAIN_KIND_WALL: _ClassVar[DomainKind]
    DOMAIN_KIND_HWMON: _ClassVar[DomainKind]
    DOMAIN_KIND_ESTIMATED: _ClassVar[DomainKind]

class Scenario(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCENARIO_UNSPECIFIED: _ClassVar[Scenario]
    SCENARIO_SINGLE_STREAM: _ClassVar[Scenario]
    SCENARIO_SERVER: _ClassVar[Scenario]
    SCENARIO_OFFLINE: _ClassVar[Scenario]
    SCENARIO_CONCURRENCY: _ClassVar[Scenario]
    SCENARIO_SWEEP: _ClassVar[Scenario]

class Provider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROVIDER_UNSPECIFIED: _ClassVar[Provider]
    PROVIDER_CPU: _ClassVar[Provider]
    PROVIDER_CUDA: _ClassVar[Provider]
    PROVIDER_TENSORRT: _ClassVar[Provider]
    PROVIDER_TENSORRT_NATIVE: _ClassVar[Provider]

class NoticeLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_LEVEL_UNSPECIFIED: _ClassVar[NoticeLevel]
    NOTICE_LEVEL_INFO: _ClassVar[NoticeLevel]
    NOTICE_LEVEL_WARNING: _ClassVar[NoticeLevel]
    NOTICE_LEVEL_ERROR: _ClassVar[NoticeLevel]

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

class EnergyMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENERGY_METHOD_UNSPECIFIED: _ClassVar[EnergyMethod]
    ENERGY_METHOD_COUNTER: _ClassVar[EnergyMethod]
    ENERGY_METHOD_INTEGRAL: _ClassVar[EnergyMethod]
    ENERGY_METHOD_NONE: _ClassVar[EnergyMethod]

class RecordEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_ENCODING_UNSPECIFIED: _ClassVar[RecordEncoding]
    RECORD_ENCODING_JSON: _ClassVar[RecordEncoding]
    RECORD_ENCODING_JSON_GZIP: _ClassVar[RecordEncoding]
DEVICE_KIND_UNSPECIFIED: DeviceKind
DEVICE_KIND_GPU: DeviceKind
DEVICE_KIND_SOC: DeviceKind
DEVICE_KIND_CPU: DeviceKind
DOMAIN_KIND_UNSPECIFIED: DomainKind
DOMAIN_KIND_GPU_BOARD: DomainKind
DOMAIN_KIND_GPU_MODULE: DomainKind
DOMAIN_KIND_SOC_RAIL: DomainKind
DOMAIN_KIND_SOC_INPUT: DomainKind
DOMAIN_KIND_CPU_PACKAGE: DomainKind
DOMAIN_KIND_CPU_DRAM: DomainKind
DOMAIN_KIND_WALL: DomainKind
DOMAIN_KIND_HWMON: DomainKind
DOMAIN_KIND_ESTIMATED: DomainKind
SCENARIO_UNSPECIFIED: Scenario
SCENARIO_SINGLE_STREAM: Scenario
SCENARIO_SERVER: Scenario
SCENARIO_OFFLINE: Scenario
SCENARIO_CONCURRENCY: Scenario
SCENARIO_SWEEP: Scenario
PROVIDER_UNSPECIFIED: Provider
PROVIDER_CPU: Provider
PROVIDER_CUDA: Provider
PROVIDER_TENSORRT: Provider
PROVIDER_TENSORRT_NATIVE: Provider
NOTICE_LEVEL_UNSPECIFIED: NoticeLevel
NOTICE_LEVEL_INFO: NoticeLevel
NOTICE_LEVEL_WARNING: NoticeLevel
NOTICE_LEVEL_ERROR: NoticeLevel
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_QUEUED: RunState
RUN_STATE_PREPARING: RunState
RUN_STATE_WARMUP: RunState
RUN_STATE_MEASURING: RunState
RUN_STATE_COMPLETED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_CANCELLED: RunState
RUN_STATE_INTERRUPTED: RunState
ENERGY_METHOD_UNSPECIFIED: EnergyMethod
ENERGY_METHOD_COUNTER: EnergyMethod
ENERGY_METHOD_INTEGRAL: EnergyMethod
ENERGY_METHOD_NONE: EnergyMethod
RECORD_ENCODING_UNSPECIFIED: RecordEncoding
RECORD_ENCODING_JSON: RecordEncoding
RECORD_ENCODING_JSON_GZIP: RecordEncoding

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
    __slots__ = ("name", "works", "detail", "provider")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    works: bool
    detail: str
    provider: Provider
    def __init__(self, name: _Optional[str] = ..., works: _Optional[bool] = ..., detail: _Optional[str] = ..., provider: _Optional[_Union[Provider, str]] = ...) -> None: ...

class Domain(_message.Message):
    __slots__ = ("name", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: DomainKind
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[DomainKind, str]] = ...) -> None: ...

class PowerSource(_message.Message):
    __slots__ = ("name", "domains", "available", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    domains: _containers.RepeatedCompositeFieldContainer[Domain]
    available: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., domains: _Optional[_Iterable[_Union[Domain, _Mapping]]] = ..., available: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("host_id", "hostname", "agent_version", "devices", "runtimes", "execution_providers", "power_sources", "labels", "started_unix_ns", "auth_required", "tls", "platform", "python", "api", "tdp_w")
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
    API_FIELD_NUMBER: _ClassVar[int]
    TDP_W_FIELD_NUMBER: _ClassVar[int]
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
    api: str
    tdp_w: float
    def __init__(self, host_id: _Optional[str] = ..., hostname: _Optional[str] = ..., agent_version: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., runtimes: _Optional[_Iterable[_Union[Runtime, _Mapping]]] = ..., execution_providers: _Optional[_Iterable[_Union[ExecutionProvider, _Mapping]]] = ..., power_sources: _Optional[_Iterable[_Union[PowerSource, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., started_unix_ns: _Optional[int] = ..., auth_required: _Optional[bool] = ..., tls: _Optional[bool] = ..., platform: _Optional[str] = ..., python: _Optional[str] = ..., api: _Optional[str] = ..., tdp_w: _Optional[float] = ...) -> None: ...

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
    scenario: Scenario
    provider: Provider
    toml: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., scenario: _Optional[_Union[Scenario, str]] = ..., provider: _Optional[_Union[Provider, str]] = ..., toml: _Optional[str] = ...) -> None: ...

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

class GetRunRecordRequest(_message.Message):
    __slots__ = ("run_id", "encoding")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    encoding: RecordEncoding
    def __init__(self, run_id: _Optional[str] = ..., encoding: _Optional[_Union[RecordEncoding, str]] = ...) -> None: ...

class RecordChunk(_message.Message):
    __slots__ = ("data", "encoding", "offset", "total_bytes", "last")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    encoding: RecordEncoding
    offset: int
    total_bytes: int
    last: bool
    def __init__(self, data: _Optional[bytes] = ..., encoding: _Optional[_Union[RecordEncoding, str]] = ..., offset: _Optional[int] = ..., total_bytes: _Optional[int] = ..., last: _Optional[bool] = ...) -> None: ...

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

class Window(_message.Message):
    __slots__ = ("anchor_unix_ns", "anchor_mono_ns", "t0_ns", "t1_ns", "duration_s", "ended_by", "notes", "source")
    ANCHOR_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_MONO_NS_FIELD_NUMBER: _ClassVar[int]
    T0_NS_FIELD_NUMBER: _ClassVar[int]
    T1_NS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    ENDED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    anchor_unix_ns: int
    anchor_mono_ns: int
    t0_ns: int
    t1_ns: int
    duration_s: float
    ended_by: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    source: str
    def __init__(self, anchor_unix_ns: _Optional[int] = ..., anchor_mono_ns: _Optional[int] = ..., t0_ns: _Optional[int] = ..., t1_ns: _Optional[int] = ..., duration_s: _Optional[float] = ..., ended_by: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ..., source: _Optional[str] = ...) -> None: ...

class EarlyStopping(_message.Message):
    __slots__ = ("metric", "percentile", "confidence", "queries", "max_overlatency", "estimate_ms", "target_ms", "overlatency", "met", "min_queries")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    MAX_OVERLATENCY_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_MS_FIELD_NUMBER: _ClassVar[int]
    TARGET_MS_FIELD_NUMBER: _ClassVar[int]
    OVERLATENCY_FIELD_NUMBER: _ClassVar[int]
    MET_FIELD_NUMBER: _ClassVar[int]
    MIN_QUERIES_FIELD_NUMBER: _ClassVar[int]
    metric: str
    percentile: float
    confidence: float
    queries: int
    max_overlatency: int
    estimate_ms: float
    target_ms: float
    overlatency: int
    met: bool
    min_queries: int
    def __init__(self, metric: _Optional[str] = ..., percentile: _Optional[float] = ..., confidence: _Optional[float] = ..., queries: _Optional[int] = ..., max_overlatency: _Optional[int] = ..., estimate_ms: _Optional[float] = ..., target_ms: _Optional[float] = ..., overlatency: _Optional[int] = ..., met: _Optional[bool] = ..., min_queries: _Optional[int] = ...) -> None: ...

class Validity(_message.Message):
    __slots__ = ("valid", "reasons", "queries", "duration_s", "min_duration_met", "min_queries_met", "early_stopping", "service_time_cov", "cov_flag", "low_confidence", "percentile_method")
    VALID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_MET_FIELD_NUMBER: _ClassVar[int]
    MIN_QUERIES_MET_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_FIELD_NUMBER: _ClassVar[int]
    SERVICE_TIME_COV_FIELD_NUMBER: _ClassVar[int]
    COV_FLAG_FIELD_NUMBER: _ClassVar[int]
    LOW_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_METHOD_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    reasons: _containers.RepeatedScalarFieldContainer[str]
    queries: int
    duration_s: float
    min_duration_met: bool
    min_queries_met: bool
    early_stopping: EarlyStopping
    service_time_cov: float
    cov_flag: bool
    low_confidence: bool
    percentile_method: str
    def __init__(self, valid: _Optional[bool] = ..., reasons: _Optional[_Iterable[str]] = ..., queries: _Optional[int] = ..., duration_s: _Optional[float] = ..., min_duration_met: _Optional[bool] = ..., min_queries_met: _Optional[bool] = ..., early_stopping: _Optional[_Union[EarlyStopping, _Mapping]] = ..., service_time_cov: _Optional[float] = ..., cov_flag: _Optional[bool] = ..., low_confidence: _Optional[bool] = ..., percentile_method: _Optional[str] = ...) -> None: ...

class Energy(_message.Message):
    __slots__ = ("domain", "kind", "method", "energy_j", "power_avg_w", "power_peak_w", "sample_rate_hz", "n_samples", "low_confidence", "notes", "headline", "shared", "idle_power_w")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ENERGY_J_FIELD_NUMBER: _ClassVar[int]
    POWER_AVG_W_FIELD_NUMBER: _ClassVar[int]
    POWER_PEAK_W_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    N_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    LOW_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    HEADLINE_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    IDLE_POWER_W_FIELD_NUMBER: _ClassVar[int]
    domain: str
    kind: DomainKind
    method: EnergyMethod
    energy_j: float
    power_avg_w: float
    power_peak_w: float
    sample_rate_hz: float
    n_samples: int
    low_confidence: bool
    notes: _containers.RepeatedScalarFieldContainer[str]
    headline: bool
    shared: bool
    idle_power_w: float
    def __init__(self, domain: _Optional[str] = ..., kind: _Optional[_Union[DomainKind, str]] = ..., method: _Optional[_Union[EnergyMethod, str]] = ..., energy_j: _Optional[float] = ..., power_avg_w: _Optional[float] = ..., power_peak_w: _Optional[float] = ..., sample_rate_hz: _Optional[float] = ..., n_samples: _Optional[int] = ..., low_confidence: _Optional[bool] = ..., notes: _Optional[_Iterable[str]] = ..., headline: _Optional[bool] = ..., shared: _Optional[bool] = ..., idle_power_w: _Optional[float] = ...) -> None: ...

class RunRecord(_message.Message):
    __slots__ = ("run_id", "state", "profile", "started_unix_ns", "ended_unix_ns", "host_id", "figures", "error", "labels", "last_seq", "window", "validity", "energy", "headline_domain", "scenario", "device", "record_bytes", "host_cpu", "task")
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
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_FIELD_NUMBER: _ClassVar[int]
    ENERGY_FIELD_NUMBER: _ClassVar[int]
    HEADLINE_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    RECORD_BYTES_FIELD_NUMBER: _ClassVar[int]
    HOST_CPU_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    state: RunState
    profile: str
    started_unix_ns: int
    ended_unix_ns: int
    host_id: str
    figures: _containers.RepeatedCompositeFieldContainer[Figure]
    error: str
    labels: _containers.ScalarMap[str, str]
    last_seq: int
    window: Window
    validity: Validity
    energy: _containers.RepeatedCompositeFieldContainer[Energy]
    headline_domain: str
    scenario: Scenario
    device: str
    record_bytes: int
    host_cpu: HostCpu
    task: TaskSuccess
    def __init__(self, run_id: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., profile: _Optional[str] = ..., started_unix_ns: _Optional[int] = ..., ended_unix_ns: _Optional[int] = ..., host_id: _Optional[str] = ..., figures: _Optional[_Iterable[_Union[Figure, _Mapping]]] = ..., error: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., last_seq: _Optional[int] = ..., window: _Optional[_Union[Window, _Mapping]] = ..., validity: _Optional[_Union[Validity, _Mapping]] = ..., energy: _Optional[_Iterable[_Union[Energy, _Mapping]]] = ..., headline_domain: _Optional[str] = ..., scenario: _Optional[_Union[Scenario, str]] = ..., device: _Optional[str] = ..., record_bytes: _Optional[int] = ..., host_cpu: _Optional[_Union[HostCpu, _Mapping]] = ..., task: _Optional[_Union[TaskSuccess, _Mapping]] = ...) -> None: ...

class HostCpu(_message.Message):
    __slots__ = ("host_util_pct", "agent_share_pct", "contended", "tdp_w")
    HOST_UTIL_PCT_FIELD_NUMBER: _ClassVar[int]
    AGENT_SHARE_PCT_FIELD_NUMBER: _ClassVar[int]
    CONTENDED_FIELD_NUMBER: _ClassVar[int]
    TDP_W_FIELD_NUMBER: _ClassVar[int]
    host_util_pct: float
    agent_share_pct: float
    contended: bool
    tdp_w: float
    def __init__(self, host_util_pct: _Optional[float] = ..., agent_share_pct: _Optional[float] = ..., contended: _Optional[bool] = ..., tdp_w: _Optional[float] = ...) -> None: ...

class TaskSuccess(_message.Message):
    __slots__ = ("scorer", "items", "correct", "success_rate", "ci_low", "ci_high")
    SCORER_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    CI_LOW_FIELD_NUMBER: _ClassVar[int]
    CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    scorer: str
    items: int
    correct: int
    success_rate: float
    ci_low: float
    ci_high: float
    def __init__(self, scorer: _Optional[str] = ..., items: _Optional[int] = ..., correct: _Optional[int] = ..., success_rate: _Optional[float] = ..., ci_low: _Optional[float] = ..., ci_high: _Optional[float] = ...) -> None: ...

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
    __slots__ = ("query_id", "token_index", "t_ns")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_INDEX_FIELD_NUMBER: _ClassVar[int]
    T_NS_FIELD_NUMBER: _ClassVar[int]
    query_id: _containers.RepeatedScalarFieldContainer[int]
    token_index: _containers.RepeatedScalarFieldContainer[int]
    t_ns: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, query_id: _Optional[_Iterable[int]] = ..., token_index: _Optional[_Iterable[int]] = ..., t_ns: _Optional[_Iterable[int]] = ...) -> None: ...

class QueryBatch(_message.Message):
    __slots__ = ("query_id", "scheduled_ns", "issued_ns", "first_token_ns", "done_ns", "n_out", "samples")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_NS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_NS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TOKEN_NS_FIELD_NUMBER: _ClassVar[int]
    DONE_NS_FIELD_NUMBER: _ClassVar[int]
    N_OUT_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    query_id: _containers.RepeatedScalarFieldContainer[int]
    scheduled_ns: _containers.RepeatedScalarFieldContainer[int]
    issued_ns: _containers.RepeatedScalarFieldContainer[int]
    first_token_ns: _containers.RepeatedScalarFieldContainer[int]
    done_ns: _containers.RepeatedScalarFieldContainer[int]
    n_out: _containers.RepeatedScalarFieldContainer[int]
    samples: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, query_id: _Optional[_Iterable[int]] = ..., scheduled_ns: _Optional[_Iterable[int]] = ..., issued_ns: _Optional[_Iterable[int]] = ..., first_token_ns: _Optional[_Iterable[int]] = ..., done_ns: _Optional[_Iterable[int]] = ..., n_out: _Optional[_Iterable[int]] = ..., samples: _Optional[_Iterable[int]] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("level", "message")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    level: NoticeLevel
    message: str
    def __init__(self, level: _Optional[_Union[NoticeLevel, str]] = ..., message: _Optional[str] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ("seq", "t_ns", "phase", "progress", "tokens", "queries", "record", "notice")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    T_NS_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    t_ns: int
    phase: PhaseChange
    progress: Progress
    tokens: TokenBatch
    queries: QueryBatch
    record: RunRecord
    notice: Notice
    def __init__(self, seq: _Optional[int] = ..., t_ns: _Optional[int] = ..., phase: _Optional[_Union[PhaseChange, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., tokens: _Optional[_Union[TokenBatch, _Mapping]] = ..., queries: _Optional[_Union[QueryBatch, _Mapping]] = ..., record: _Optional[_Union[RunRecord, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ...) -> None: ...

class StreamTelemetryRequest(_message.Message):
    __slots__ = ("interval_s", "after_seq")
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    interval_s: float
    after_seq: int
    def __init__(self, interval_s: _Optional[float] = ..., after_seq: _Optional[int] = ...) -> None: ...

class PowerReading(_message.Message):
    __slots__ = ("source", "domain", "t_ns", "power_w", "energy_j", "missing", "kind")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    T_NS_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    ENERGY_J_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    source: str
    domain: str
    t_ns: int
    power_w: float
    energy_j: float
    missing: bool
    kind: DomainKind
    def __init__(self, source: _Optional[str] = ..., domain: _Optional[str] = ..., t_ns: _Optional[int] = ..., power_w: _Optional[float] = ..., energy_j: _Optional[float] = ..., missing: _Optional[bool] = ..., kind: _Optional[_Union[DomainKind, str]] = ...) -> None: ...

class DeviceReading(_message.Message):
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
    __slots__ = ("seq", "power", "devices", "anchor_unix_ns", "anchor_mono_ns")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_MONO_NS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    power: _containers.RepeatedCompositeFieldContainer[PowerReading]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceReading]
    anchor_unix_ns: int
    anchor_mono_ns: int
    def __init__(self, seq: _Optional[int] = ..., power: _Optional[_Iterable[_Union[PowerReading, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[DeviceReading, _Mapping]]] = ..., anchor_unix_ns: _Optional[int] = ..., anchor_mono_ns: _Optional[int] = ...) -> None: ...
