"""Runs through a real agent on loopback: events, records, resume, slow clients, limits, bad input."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import RunningAgent, scrape_metrics, start_agent

from wattfleet.agent.service.journal import Journal
from wattfleet.core import wire
from wattfleet.core.client import AgentClient, AgentError
from wattfleet.core.model import Notice, PhaseChange, QueryBatch, RunEvent, RunRecord, RunSpec, TokenBatch

SHORT = {"load.min_duration_s": "0.2", "load.min_queries": "4", "load.output_tokens": "6"}
LONG = {"load.min_duration_s": "30", "load.min_queries": "100000", "load.max_duration_s": "60"}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    work = tmp_path_factory.mktemp("runs-agent")
    models = work / "models"
    models.mkdir()
    (models / "inside.onnx").write_bytes(b"not a model")
    os.symlink("/etc/hostname", models / "escape.onnx")
    profiles = work / "profiles"
    profiles.mkdir()
    (profiles / "site-smoke.toml").write_text(
        'name = "site-smoke"\ndescription = "this site\'s own check"\n[model]\nbuiltin = "decoder-tiny"\n'
        "[load]\nprompt_tokens = 4\noutput_tokens = 3\nmin_duration_s = 0.1\nmin_queries = 3\nwarmup_queries = 0\n"
        "target_latency_percentile = 0\n"  # 3 queries support no percentile claim
    )
    (profiles / "broken.toml").write_text("this is not toml = = =")
    a = start_agent(
        work,
        host_id="runs-agent",
        extra=("--model-dir", str(models), "--profile-dir", str(profiles), "--max-watchers", "6"),
    )
    try:
        yield a
    finally:
        a.stop()


async def _events(client: AgentClient, run_id: str, after_seq: int = 0) -> list[RunEvent]:
    return [wire.run_event_from_proto(m) async for m in client.watch_run_raw(run_id, after_seq)]


def _check_contiguous(events: list[RunEvent], first: int = 1) -> None:
    assert [e.seq for e in events] == list(range(first, first + len(events)))


async def test_a_run_streams_every_token_and_ends_with_the_record(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        handle = await c.start_run(RunSpec(profile="smoke", overrides=SHORT, labels={"team": "perf"}))
        assert handle.state == "queued" and handle.run_id
        events = await _events(c, handle.run_id)
        _check_contiguous(events)
        phases = [e.body.state for e in events if isinstance(e.body, PhaseChange)]
        assert phases[0] == "queued" and phases[-1] == "completed"
        assert phases.index("preparing") < phases.index("measuring")
        summary = events[-1].body
        assert isinstance(summary, RunRecord)
        assert summary.state == "completed" and summary.last_seq == events[-1].seq
        assert summary.labels == {"team": "perf"} and summary.host_id == "runs-agent"

        tokens: dict[int, list[tuple[int, int]]] = {}
        for e in events:
            if isinstance(e.body, TokenBatch):
                for rid, idx, t in zip(e.body.query_id, e.body.token_index, e.body.t_ns, strict=True):
                    tokens.setdefault(rid, []).append((idx, t))
        queries = [e.body for e in events if isinstance(e.body, QueryBatch)]
        measured = [
            (rid, n, done)
            for q in queries
            for rid, n, done in zip(q.query_id, q.n_out, q.done_ns, strict=True)
        ]
        assert len(measured) >= 4
        for rid, n_out, done_ns in measured:  # every token of every measured query came through, once
            got = sorted(tokens[rid])
            assert [i for i, _ in got] == list(range(n_out))
            assert got[-1][1] == done_ns

        text = await c.get_run_record_json(handle.run_id)
        record = json.loads(text)
        same = RunRecord.from_json(text)  # the record `wattfleet bench` writes, round-tripped
        assert json.loads(same.to_json()) == record
        assert record["labels"] == {"team": "perf"} and record["run_id"] == handle.run_id
        assert summary.record_bytes == len(text.encode())
        # the typed final record carries what the JSON does, less the per-query timings
        assert [f.key for f in summary.figures] == [f.key for f in same.figures]
        assert summary.validity == same.validity.__class__(**{**same.validity.__dict__, "details": {}})
        assert summary.window == same.window and summary.window.measured
        assert summary.started_unix_ns == same.started_unix_ns and summary.ended_unix_ns == same.ended_unix_ns
        full = await c.get_run(handle.run_id)
        assert full.state == "completed" and full.figures == summary.figures and not full.queries
        listed = await c.list_runs()
        assert handle.run_id in [r.run_id for r in listed]
        # watching an ended run from the start replays the buffer and the final record again
        assert [e.seq for e in await _events(c, handle.run_id)] == [e.seq for e in events]
        # past its last event there is nothing to stream: OUT_OF_RANGE, never an empty stream
        with pytest.raises(AgentError) as info:
            await _events(c, handle.run_id, after_seq=events[-1].seq)
        assert info.value.code == "OUT_OF_RANGE" and "ended (completed)" in info.value.message
        with pytest.raises(AgentError) as info:
            await _events(c, handle.run_id, after_seq=events[-1].seq + 50)
        assert info.value.code == "OUT_OF_RANGE" and "ahead" in info.value.message


async def test_a_client_that_disconnects_and_resumes_sees_no_gap_and_no_duplicate(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        handle = await c.start_run(RunSpec(profile="smoke", overrides={**SHORT, "load.min_duration_s": "1.0"}))
        first: list[RunEvent] = []
        stream = c.watch_run_raw(handle.run_id)
        async for msg in stream:
            first.append(wire.run_event_from_proto(msg))
            if isinstance(first[-1].body, TokenBatch) and len(first) >= 5:
                break  # drop the connection mid-run
        await stream.aclose()
        assert not isinstance(first[-1].body, RunRecord)
        rest = await _events(c, handle.run_id, after_seq=first[-1].seq)
        joined = first + rest
        _check_contiguous(joined)
        assert isinstance(joined[-1].body, RunRecord)
        whole = await _events(c, handle.run_id)  # the same events, byte for byte, as one stream gives
        assert [wire.run_event_proto(e.seq, e.t_ns, e.body).SerializeToString() for e in whole] == [
            wire.run_event_proto(e.seq, e.t_ns, e.body).SerializeToString() for e in joined
        ]


async def test_the_resuming_client_helper_yields_each_event_once(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        handle = await c.start_run(RunSpec(profile="smoke", overrides=SHORT))
        first = []
        async for event in c.watch_run(handle.run_id):
            first.append(event)
            if len(first) == 3:
                break
        events = [e async for e in c.watch_run(handle.run_id, after_seq=3)]
        _check_contiguous(first + events)
        assert isinstance(events[-1].body, RunRecord)


async def test_a_slow_client_does_not_hold_back_a_fast_one(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as slow_c, AgentClient(
        agent.target, token=agent.token
    ) as fast_c:
        handle = await fast_c.start_run(RunSpec(profile="smoke", overrides={**SHORT, "load.min_duration_s": "1"}))
        slow_seen: list[int] = []
        release = asyncio.Event()

        async def slow() -> None:
            async for msg in slow_c.watch_run_raw(handle.run_id):
                slow_seen.append(msg.seq)
                if len(slow_seen) == 2:
                    await release.wait()  # stuck: reads nothing more until the fast client is done

        slow_task = asyncio.create_task(slow())
        fast = await asyncio.wait_for(_events(fast_c, handle.run_id), 60)
        _check_contiguous(fast)
        assert isinstance(fast[-1].body, RunRecord)
        assert len(slow_seen) == 2  # the fast client got everything while the slow one sat on event 2
        release.set()
        await asyncio.wait_for(slow_task, 30)
        assert slow_seen == [e.seq for e in fast]  # and the slow one still gets every event


async def test_resume_point_gone_and_unknown_ids_give_clear_statuses(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        for call in (c.get_run("no-such-run"), c.cancel_run("no-such-run"), _events(c, "no-such-run")):
            with pytest.raises(AgentError) as err:
                await call
            assert err.value.code == "NOT_FOUND" and "ListRuns" in err.value.message
        handle = await c.start_run(RunSpec(profile="smoke", overrides=SHORT))
        events = await _events(c, handle.run_id)
        with pytest.raises(AgentError) as err:  # nothing after the end: said, not an empty stream
            await _events(c, handle.run_id, after_seq=events[-1].seq)
        assert err.value.code == "OUT_OF_RANGE" and "nothing follows" in err.value.message


@pytest.mark.parametrize(
    ("spec", "code", "words"),
    [
        (RunSpec(profile="no-such-profile"), "NOT_FOUND", "no profile named"),
        (RunSpec(profile="../../etc/passwd"), "INVALID_ARGUMENT", "not a profile name"),
        (RunSpec(profile="smoke", overrides={"load.rate": "-1"}), "INVALID_ARGUMENT", "load.rate"),
        (RunSpec(profile="smoke", overrides={"load.bogus": "1"}), "INVALID_ARGUMENT", "unknown key"),
        (RunSpec(profile_toml='name = "x"\n[load]\nscenario = "warp"\n'), "INVALID_ARGUMENT", "scenario"),
        (RunSpec(), "INVALID_ARGUMENT", "exactly one"),
        (RunSpec(profile="smoke", device="tpu:9"), "INVALID_ARGUMENT", "RunSpec.device"),
        (RunSpec(profile="smoke", overrides={"model.path": "/etc/passwd"}), "PERMISSION_DENIED", "outside"),
        (RunSpec(profile="smoke", overrides={"model.path": "../../x.onnx"}), "PERMISSION_DENIED", "outside"),
        (RunSpec(profile="smoke", overrides={"model.path": "escape.onnx"}), "PERMISSION_DENIED", "outside"),
        (RunSpec(profile="smoke", overrides={"model.path": "missing.onnx"}), "INVALID_ARGUMENT", "no such"),
        (RunSpec(profile="smoke", overrides={"runtime.cache_dir": "/tmp"}), "PERMISSION_DENIED", "cache"),
        (RunSpec(profile="smoke", overrides={"model.builtin": "gpt-17"}), "INVALID_ARGUMENT", "decoder-tiny"),
    ],
)
async def test_bad_specs_are_refused_with_the_right_status(
    agent: RunningAgent, spec: RunSpec, code: str, words: str
) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        with pytest.raises(AgentError) as err:
            await c.start_run(spec)
        assert err.value.code == code, err.value
        assert words in err.value.message
        assert (await c.list_profiles())  # and the agent keeps serving


async def test_an_oversized_message_is_refused_and_the_agent_keeps_serving(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        with pytest.raises(AgentError) as err:
            await c.start_run(RunSpec(profile_toml="#" * (5 * 1024 * 1024)))
        assert err.value.code == "RESOURCE_EXHAUSTED"
        with pytest.raises(AgentError) as err:
            await c.start_run(RunSpec(profile_toml="# x\n" * 30_000))  # under gRPC's limit, over ours
        assert err.value.code == "INVALID_ARGUMENT" and "profile_toml" in err.value.message
        assert (await c.get_info()).host_id == "runs-agent"


async def test_runs_queue_per_device_and_cancel(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        first = await c.start_run(RunSpec(profile="smoke", overrides=LONG))
        second = await c.start_run(RunSpec(profile="smoke", overrides=SHORT))
        assert (second.state, second.queue_position) == ("queued", 1)
        cancelled = await c.cancel_run(second.run_id)
        assert cancelled.state == "cancelled"
        async for event in c.watch_run(first.run_id):  # cancel once it measures (a window to report)
            if isinstance(event.body, QueryBatch):
                break
        await c.cancel_run(first.run_id)
        events = await _events(c, first.run_id)
        final = events[-1].body
        assert isinstance(final, RunRecord) and final.state == "cancelled"
        assert (await c.get_run(second.run_id)).state == "cancelled"


async def test_the_watcher_limit_is_enforced(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        handle = await c.start_run(RunSpec(profile="smoke", overrides=LONG))
        streams = [c.watch_run_raw(handle.run_id) for _ in range(6)]
        try:
            for s in streams:
                await s.__anext__()
            live = await c.get_run(handle.run_id)  # while it runs: figures so far, marked low confidence
            for _ in range(100):
                if live.figures:
                    break
                await asyncio.sleep(0.05)
                live = await c.get_run(handle.run_id)
            assert live.state in ("warmup", "measuring") and live.record_bytes == 0 and not live.queries
            assert {"ttft_p50", "tpot_p50"} <= {f.name for f in live.figures}
            assert all(f.low_confidence for f in live.figures)
            with pytest.raises(AgentError) as err:
                await _events(c, handle.run_id)
            assert err.value.code == "RESOURCE_EXHAUSTED" and "--max-watchers" in err.value.message
        finally:
            for s in streams:
                await s.aclose()
            await c.cancel_run(handle.run_id)
        assert isinstance((await _events(c, handle.run_id))[-1].body, RunRecord)


async def test_kill_9_during_a_run_then_restart_shows_it_interrupted_with_its_data(tmp_path: Path) -> None:
    extra = ("--power-source", "estimated:tdp_w=100", "--metrics-port", "0")
    a = start_agent(tmp_path, host_id="crashy", extra=extra)
    seen = 0
    try:
        async with AgentClient(a.target, token=a.token) as c:
            handle = await c.start_run(RunSpec(profile="smoke", overrides=LONG))
            measured = 0
            async for event in c.watch_run(handle.run_id):
                seen = event.seq
                if isinstance(event.body, QueryBatch):
                    measured += len(event.body.query_id)
                if measured >= 6:
                    break
            journal = Journal(a.data_dir / "journal.sqlite3")  # a second reader: WAL lets it look while writing
            try:
                for _ in range(300):  # what a crash keeps: queries, and energy points a second apart
                    async for event in c.watch_run(handle.run_id, after_seq=seen):
                        seen = event.seq  # the last event this watcher saw before the crash
                        break
                    queries = sum(1 for q in journal.queries(handle.run_id) if not q.warmup)
                    if queries >= 6 and len(journal.energy_points(handle.run_id)) >= 3:
                        break
                    await asyncio.sleep(0.05)
            finally:
                journal.close()
    finally:
        a.kill()
    b = start_agent(tmp_path, host_id="crashy", data_dir=a.data_dir, extra=extra)
    try:
        async with AgentClient(b.target, token=b.token) as c:
            # The watcher resumes where it was and learns the run was interrupted: a final event above its seq.
            resumed = [e async for e in c.watch_run(handle.run_id, after_seq=seen)]
            assert len(resumed) == 1 and resumed[0].seq > seen
            final = resumed[0].body
            assert isinstance(final, RunRecord) and final.state == "interrupted"
            run = await c.get_run(handle.run_id)
            assert run.state == "interrupted" and "interrupted" in run.error
            assert {"ttft_p50", "tpot_p50"} <= {f.name for f in run.figures}
            assert all(f.low_confidence for f in run.figures) and run.validity.low_confidence
            record = await c.get_run_record(handle.run_id)  # the same record format `wattfleet bench` writes
            assert record.state == "interrupted" and record.run_id == handle.run_id
            assert len([q for q in record.queries if not q.warmup]) >= 6
            assert record.figure("tpot_p50") is not None and record.window.duration_s > 0
            assert record.environment["provider_used"] == "CPUExecutionProvider"
            assert 'name = "smoke"' in record.profile_text
            (energy,) = record.energy  # the energy measured up to the crash
            assert energy.domain == "estimated" and energy.energy_j and energy.energy_j > 0 and energy.low_confidence
            assert record.headline("tokens_per_j") is not None
            # It ends at the last journaled time, not at the restart.
            assert record.started_unix_ns < record.ended_unix_ns < b.started_unix_ns
            assert handle.run_id in [r.run_id for r in await c.list_runs()]
            with pytest.raises(AgentError) as err:
                await _events(c, handle.run_id, after_seq=resumed[0].seq)
            assert err.value.code == "OUT_OF_RANGE" and "GetRun" in err.value.message
        ended = {lab["state"]: v for lab, v in scrape_metrics(b.metrics_port)["wattfleet_runs_ended_total"]}
        assert ended["interrupted"] == 1.0
    finally:
        b.stop()


async def test_a_graceful_stop_during_a_run_keeps_its_full_record_as_interrupted(tmp_path: Path) -> None:
    a = start_agent(tmp_path, host_id="stopper")
    try:
        async with AgentClient(a.target, token=a.token) as c:
            handle = await c.start_run(RunSpec(profile="smoke", overrides=LONG))
            async for event in c.watch_run(handle.run_id):
                if isinstance(event.body, QueryBatch):
                    break
        assert a.stop() == 0
    finally:
        a.kill()
    b = start_agent(tmp_path, host_id="stopper", data_dir=a.data_dir)
    try:
        async with AgentClient(b.target, token=b.token) as c:
            run = await c.get_run(handle.run_id)
            assert run.state == "interrupted" and "stopped" in run.error
            record = json.loads(await c.get_run_record_json(handle.run_id))
            assert record["run_id"] == handle.run_id and record["queries"]  # the engine's own record
            events = await _events(c, handle.run_id, after_seq=run.last_seq - 1)
            assert [e.seq for e in events] == [run.last_seq] and isinstance(events[0].body, RunRecord)
    finally:
        b.stop()


async def test_a_run_past_the_agents_time_limit_is_stopped_and_says_why(tmp_path: Path) -> None:
    a = start_agent(tmp_path, host_id="limited", extra=("--max-run-s", "1.5"))
    try:
        async with AgentClient(a.target, token=a.token) as c:
            handle = await c.start_run(RunSpec(profile="smoke", overrides=LONG))
            events = [e async for e in c.watch_run(handle.run_id)]
            notices = [e.body.message for e in events if isinstance(e.body, Notice)]
            assert any("max_run_s" in n for n in notices)
            summary = events[-1].body
            assert isinstance(summary, RunRecord) and summary.state == "cancelled"
            assert "limit of 1.5 s" in summary.error
            record = json.loads(await c.get_run_record_json(handle.run_id))
            assert record["profile"]["load"]["max_duration_s"] == 1.5  # the window was capped too
    finally:
        a.stop()


async def test_a_record_larger_than_the_message_limit_still_arrives_whole(tmp_path: Path) -> None:
    a = start_agent(tmp_path, host_id="small-msgs", extra=("--max-message-bytes", "131072"))
    try:
        async with AgentClient(a.target, token=a.token) as c:
            many = {"load.min_duration_s": "0.3", "load.min_queries": "600", "load.max_duration_s": "30"}
            handle = await c.start_run(RunSpec(profile="smoke", overrides=many))  # ~300 bytes a query
            events = [e async for e in c.watch_run(handle.run_id)]
            summary = events[-1].body
            assert isinstance(summary, RunRecord) and summary.state == "completed"
            assert summary.record_bytes > 131072  # bigger than any one message may be
            text = await c.get_run_record_json(handle.run_id, gzip=False)  # plain JSON, in several chunks
            assert len(text.encode()) == summary.record_bytes
            record = RunRecord.from_json(text)
            assert record.run_id == handle.run_id and record.queries
            assert await c.get_run_record_json(handle.run_id) == text  # and gzip-encoded, the same JSON
    finally:
        a.stop()


async def test_an_agent_that_does_not_queue_refuses_a_second_run_on_a_busy_device(tmp_path: Path) -> None:
    a = start_agent(tmp_path, host_id="no-queue", extra=("--refuse-when-busy",))
    try:
        async with AgentClient(a.target, token=a.token) as c:
            first = await c.start_run(RunSpec(profile="smoke", overrides=LONG))
            with pytest.raises(AgentError) as err:
                await c.start_run(RunSpec(profile="smoke", overrides=SHORT))
            assert err.value.code == "RESOURCE_EXHAUSTED"
            assert first.run_id in err.value.message and "device cpu is busy" in err.value.message
            await c.cancel_run(first.run_id)
            assert isinstance((await _events(c, first.run_id))[-1].body, RunRecord)
            second = await c.start_run(RunSpec(profile="smoke", overrides=SHORT))  # free again
            assert (await _events(c, second.run_id))[-1].body.state == "completed"  # type: ignore[union-attr]
    finally:
        a.stop()


async def test_profiles_list_builtins_and_the_agents_own_and_run_by_name(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        profiles = {p.name: p for p in await c.list_profiles()}
        assert {"smoke", "site-smoke"} <= profiles.keys() and "broken" not in profiles
        assert profiles["site-smoke"].description == "this site's own check"
        assert profiles["smoke"].scenario == "single-stream" and 'name = "smoke"' in profiles["smoke"].toml
        handle = await c.start_run(RunSpec(profile="site-smoke"))
        summary = (await _events(c, handle.run_id))[-1].body
        assert isinstance(summary, RunRecord) and summary.state == "completed"
        assert summary.profile["name"] == "site-smoke"
        with pytest.raises(AgentError) as err:
            await c.start_run(RunSpec(profile="broken"))
        assert err.value.code == "INVALID_ARGUMENT" and "broken.toml" in err.value.message
