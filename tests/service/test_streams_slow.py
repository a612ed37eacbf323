"""A watcher that stops reading falls behind the agent's ring and is told so; the fast one is unharmed.

The stuck client opens its channel with a small HTTP/2 receive window (no BDP growth), so the agent's
transport fills after a few KB and the agent's cursor for that client stops; the run and the other
watcher go on, and when the stuck client reads again it gets OUT_OF_RANGE saying it fell behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agents import start_agent

from wattfleet.core.client import AgentClient, AgentError
from wattfleet.core.model import RunRecord, RunSpec

SMALL_WINDOW = (("grpc.http2.lookahead_bytes", 1024), ("grpc.http2.bdp_probe", 0))


async def test_a_stuck_watcher_is_told_it_fell_behind_and_the_fast_one_gets_everything(tmp_path: Path) -> None:
    a = start_agent(tmp_path, host_id="ring-8", extra=("--event-buffer", "8"))
    try:
        async with AgentClient(a.target, token=a.token, options=SMALL_WINDOW) as stuck_c, AgentClient(
            a.target, token=a.token
        ) as fast_c:
            handle = await fast_c.start_run(
                RunSpec(profile="smoke", overrides={"load.min_duration_s": "2", "load.min_queries": "4"})
            )
            stuck = stuck_c.watch_run_raw(handle.run_id)
            seen = [(await stuck.__anext__()).seq]
            fast = [e async for e in fast_c.watch_run(handle.run_id)]  # the resuming helper checks contiguity
            assert fast[0].seq == 1 and isinstance(fast[-1].body, RunRecord)
            assert fast[-1].body.state == "completed"
            assert len(fast) > 8 * 4  # far more events than the ring holds went by
            with pytest.raises(AgentError) as err:
                async for msg in stuck:
                    seen.append(msg.seq)
            assert err.value.code == "OUT_OF_RANGE" and "fell behind" in err.value.message
            assert "GetRun" in err.value.message
            assert seen == list(range(1, len(seen) + 1)) and len(seen) < len(fast)  # no gap before the notice
            run = await asyncio.wait_for(fast_c.get_run(handle.run_id), 10)
            assert run.record_bytes and (await fast_c.get_run_record(handle.run_id)).queries  # one call away
    finally:
        a.stop()
