"""Run events: built once by the agent, read back by clients."""

from __future__ import annotations

from typing import Any

from wattfleet.core.model import (
    Notice,
    PhaseChange,
    Progress,
    QueryBatch,
    RunEvent,
    RunEventBody,
    RunRecord,
    TokenBatch,
)
from wattfleet.core.wire.enums import (
    LEVEL_NAMES,
    LEVELS,
    run_state_name,
    run_state_to_proto,
)
from wattfleet.core.wire.records import record_from_proto, record_to_proto
from wattfleet.v1 import agent_pb2 as Pb

# --- events --------------------------------------------------------------------------------------


def run_event_proto(seq: int, t_ns: int, body: RunEventBody) -> Any:
    """Build a wire RunEvent once; the agent keeps these in its ring and sends them as they are."""
    if isinstance(body, TokenBatch):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, tokens=Pb.TokenBatch(
            query_id=body.query_id, token_index=body.token_index, t_ns=body.t_ns))
    if isinstance(body, QueryBatch):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, queries=Pb.QueryBatch(
            query_id=body.query_id, scheduled_ns=body.scheduled_ns, issued_ns=body.issued_ns,
            first_token_ns=body.first_token_ns, done_ns=body.done_ns, n_out=body.n_out, samples=body.samples))
    if isinstance(body, PhaseChange):
        return Pb.RunEvent(seq=seq, t_ns=t_ns,
                           phase=Pb.PhaseChange(state=run_state_to_proto(body.state), detail=body.detail))
    if isinstance(body, Progress):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, progress=Pb.Progress(
            fraction=body.fraction, queries_done=body.queries_done, tokens_done=body.tokens_done,
            elapsed_s=body.elapsed_s, detail=body.detail))
    if isinstance(body, RunRecord):
        return Pb.RunEvent(seq=seq, t_ns=t_ns, record=record_to_proto(body))
    return Pb.RunEvent(seq=seq, t_ns=t_ns, notice=Pb.Notice(
        level=LEVELS.get(body.level, Pb.NOTICE_LEVEL_UNSPECIFIED), message=body.message))


def run_event_from_proto(msg: Any) -> RunEvent:
    kind = msg.WhichOneof("body")
    body: RunEventBody
    if kind == "phase":
        body = PhaseChange(run_state_name(msg.phase.state), msg.phase.detail)
    elif kind == "progress":
        p = msg.progress
        body = Progress(p.fraction, p.queries_done, p.tokens_done, p.elapsed_s, p.detail)
    elif kind == "tokens":
        t = msg.tokens
        body = TokenBatch(tuple(t.query_id), tuple(t.token_index), tuple(t.t_ns))
    elif kind == "queries":
        q = msg.queries
        body = QueryBatch(tuple(q.query_id), tuple(q.scheduled_ns), tuple(q.issued_ns), tuple(q.first_token_ns),
                          tuple(q.done_ns), tuple(q.n_out), tuple(q.samples))
    elif kind == "record":
        body = record_from_proto(msg.record)
    else:
        body = Notice(LEVEL_NAMES.get(msg.notice.level, "info"), msg.notice.message)
    return RunEvent(msg.seq, msg.t_ns, body)


def event_seq(msg: Any) -> int:
    """The seq of a wire RunEvent or TelemetryBatch, without converting the rest."""
    return int(msg.seq)


def is_final_event(msg: Any) -> bool:
    return bool(msg.WhichOneof("body") == "record")


