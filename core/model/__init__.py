"""The domain model both halves share: one name per concept, no gRPC, no Textual, no zeroconf.

    agent.py      AgentInfo, Device, ExecutionProvider, PowerSource   (what GetInfo says)
    runs.py       RunSpec, RunHandle, run states, RunEvent and its bodies
    record.py     RunRecord (the run's record), Window, DomainEnergy, HostCpu, TaskSuccess
    validity.py   Validity, EarlyStopping
    figure.py     Figure
    query.py      Query (one query's timestamps)
    telemetry.py  TelemetryBatch, PowerReading, DeviceReading
    domains.py    energy domains and their kinds

core/wire/ is the one adapter between these and the generated protobuf code.
"""

from wattfleet.core.model.agent import API_NAME, AgentInfo, Device, ExecutionProvider, PowerSource
from wattfleet.core.model.domains import DOMAIN_KINDS, domain_kind, is_estimate
from wattfleet.core.model.figure import Figure, figure_value, find_figure
from wattfleet.core.model.query import Query
from wattfleet.core.model.record import (
    SCHEMA_VERSION,
    DomainEnergy,
    HostCpu,
    RecordError,
    RunRecord,
    TaskSuccess,
    Window,
)
from wattfleet.core.model.runs import (
    ENDED_STATES,
    NOTICE_LEVELS,
    PROVIDERS,
    RUN_STATES,
    SCENARIOS,
    Notice,
    PhaseChange,
    ProfileInfo,
    Progress,
    QueryBatch,
    RunEvent,
    RunEventBody,
    RunHandle,
    RunSpec,
    TokenBatch,
)
from wattfleet.core.model.telemetry import DEVICE_FIELDS, DeviceReading, PowerReading, TelemetryBatch
from wattfleet.core.model.validity import EarlyStopping, Validity

__all__ = [
    "API_NAME", "DEVICE_FIELDS", "DOMAIN_KINDS", "ENDED_STATES", "NOTICE_LEVELS", "PROVIDERS", "RUN_STATES",
    "SCENARIOS", "SCHEMA_VERSION", "AgentInfo", "Device", "DeviceReading", "DomainEnergy", "EarlyStopping",
    "ExecutionProvider", "Figure", "HostCpu", "Notice", "PhaseChange", "PowerReading", "PowerSource", "ProfileInfo",
    "Progress", "Query", "QueryBatch", "RecordError", "RunEvent", "RunEventBody", "RunHandle", "RunRecord",
    "RunSpec", "TaskSuccess", "TelemetryBatch", "TokenBatch", "Validity", "Window", "domain_kind",
    "figure_value", "find_figure", "is_estimate",
]
