"""Runs as client and agent speak of them: what to run (RunSpec), its handle, its states, its events."""

from __future__ import annotations

from dataclasses import dataclass, field

from wattfleet.core.model.record import RunRecord

RUN_STATES: tuple[str, ...] = (
    "queued", "preparing", "warmup", "measuring", "completed", "failed", "cancelled", "interrupted",
)
ENDED_STATES = frozenset({"completed", "failed", "cancelled", "interrupted"})
SCENARIOS: tuple[str, ...] = ("single-stream", "server", "offline", "concurrency", "sweep")
PROVIDERS: tuple[str, ...] = ("cpu", "cuda", "tensorrt", "tensorrt-native")
NOTICE_LEVELS: tuple[str, ...] = ("info", "warning", "error")


@dataclass(frozen=True)
class RunSpec:
    """What to run: a profile name the agent knows, or an inline profile TOML, plus overrides."""

    profile: str = ""
    profile_toml: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    device: str = ""


@dataclass(frozen=True)
class RunHandle:
    run_id: str
    state: str
    queue_position: int = 0


@dataclass(frozen=True)
class ProfileInfo:
    name: str
    description: str = ""
    model: str = ""
    scenario: str = ""
    provider: str = ""
    toml: str = ""


@dataclass(frozen=True)
class PhaseChange:
    state: str
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    fraction: float
    queries_done: int = 0
    tokens_done: int = 0
    elapsed_s: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class TokenBatch:
    """Columnar: token i of the batch is (query_id[i], token_index[i], t_ns[i])."""

    query_id: tuple[int, ...]
    token_index: tuple[int, ...]
    t_ns: tuple[int, ...]


@dataclass(frozen=True)
class QueryBatch:
    """Columnar per-query timings of measured queries (warm-up queries are not sent)."""

    query_id: tuple[int, ...]
    scheduled_ns: tuple[int, ...]
    issued_ns: tuple[int, ...]
    first_token_ns: tuple[int, ...]
    done_ns: tuple[int, ...]
    n_out: tuple[int, ...]
    samples: tuple[int, ...] = ()


@dataclass(frozen=True)
class Notice:
    level: str  # "info", "warning", "error"
    message: str


RunEventBody = PhaseChange | Progress | TokenBatch | QueryBatch | RunRecord | Notice


@dataclass(frozen=True)
class RunEvent:
    """One event of a run's stream; the last one carries the final RunRecord (without its queries)."""

    seq: int
    t_ns: int
    body: RunEventBody
