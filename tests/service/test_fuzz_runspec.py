"""Property-based fuzz of RunSpec against a real agent: every answer is a run or a clear refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from agents import RunningAgent, start_agent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattfleet.core.client import AgentClient, AgentError
from wattfleet.core.model import ENDED_STATES, RunRecord, RunSpec

REFUSALS = {"INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED"}
KEYS = [
    "load.rate", "load.rate_qps", "load.scenario", "load.output_tokens", "load.prompt_tokens", "load.concurrency",
    "load.max_duration_s", "load.batch_size", "load.sweep.values", "model.path", "model.builtin", "model.dims.seq",
    "runtime.provider", "runtime.precision", "runtime.cache_dir", "runtime.device_id", "slo.ttft_ms", "quality",
    "name", "load", "load..rate", ".", "",
]
VALUES = ["-1", "0", "1", "1e309", "nan", "inf", "true", "poisson", "cuda", "/etc/passwd", "../../x", "a,b", ""]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
toml_lines = st.lists(
    st.one_of(
        st.sampled_from(['name = "fz"', "[load]", "[model]", "[runtime]", "[slo]", 'builtin = "decoder-tiny"',
                         "rate_qps = -3", 'scenario = "server"', "output_tokens = 1e9", "x = [", '"\\u0000" = 1']),
        text,
    ),
    max_size=8,
).map("\n".join)
overrides = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), text), st.one_of(st.sampled_from(VALUES), text), max_size=3
)
common = {
    "overrides": overrides,
    "labels": st.dictionaries(text, text, max_size=3),
    "device": st.one_of(st.sampled_from(["", "", "cpu", "gpu:0", "gpu:99999", "gpu:", "cpu:0"]), text),
}
near_valid = st.dictionaries(
    st.sampled_from(["model.path", "load.output_tokens", "load.min_queries", "runtime.cache_dir", "load.rate"]),
    st.sampled_from(["/etc/passwd", "../x.onnx", "2", "4", "0", "-2", "/tmp"]),
    max_size=2,
)
specs = st.one_of(
    st.builds(RunSpec, profile=st.just("smoke"), overrides=near_valid, device=st.sampled_from(["", "cpu"])),
    st.builds(RunSpec, profile=st.just("smoke"), profile_toml=st.just(""), **common),
    st.builds(RunSpec, profile=st.one_of(st.sampled_from(["nope", "../smoke", "smoke.toml", "/etc/passwd"]), text),
              profile_toml=st.just(""), **common),
    st.builds(RunSpec, profile=st.just(""), profile_toml=toml_lines, **common),
    st.builds(RunSpec, profile=text, profile_toml=toml_lines, **common),
)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    a = start_agent(tmp_path_factory.mktemp("fuzz"), host_id="fuzz-agent")
    try:
        yield a
    finally:
        a.stop()


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    try:
        yield lp
    finally:
        lp.close()


def test_fuzzed_run_specs_get_a_run_or_a_clear_refusal(agent: RunningAgent, loop: asyncio.AbstractEventLoop) -> None:
    async def connect() -> AgentClient:  # the channel belongs to the loop it is made on
        return AgentClient(agent.target, token=agent.token)

    client = loop.run_until_complete(connect())
    started: list[str] = []
    codes: set[str] = set()

    @settings(
        max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(spec=specs)
    def check(spec: RunSpec) -> None:
        async def once() -> None:
            try:
                handle = await client.start_run(spec)
            except AgentError as exc:
                codes.add(exc.code)
                assert exc.code in REFUSALS, f"{spec!r} -> {exc}"
                assert exc.message.strip(), spec
            else:
                started.append(handle.run_id)
                await client.cancel_run(handle.run_id)

        loop.run_until_complete(once())

    try:
        check()

        async def after() -> None:
            assert (await client.get_info()).host_id == "fuzz-agent"  # still serving
            for run_id in started:  # every run the fuzz started ends, and says how
                events = [e async for e in client.watch_run(run_id)]
                assert isinstance(events[-1].body, RunRecord)
                assert events[-1].body.state in ENDED_STATES

        loop.run_until_complete(after())
    finally:
        loop.run_until_complete(client.close())
    assert {"INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED"} <= codes  # the fuzz reached each refusal
    assert started  # and some specs were valid runs
