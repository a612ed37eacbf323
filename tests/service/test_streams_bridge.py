"""The observer bridge: workload threads hand events to the loop in order, batched by count and age."""

from __future__ import annotations

import asyncio
import threading

from wattfleet.agent.service.bridge import EventBridge, Item, Phase, ProgressNote, Tokens


async def test_events_from_several_threads_arrive_once_in_order_and_batched() -> None:
    loop = asyncio.get_running_loop()
    got: list[Item] = []
    bridge = EventBridge(loop, got.extend, max_tokens=100, max_age_s=3600)

    def worker(rid: int) -> None:
        for k in range(250):
            bridge.on_token(rid, k, 1_000 + k)

    threads = [threading.Thread(target=worker, args=(rid,)) for rid in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bridge.on_progress(0.5, 3, 1000, 1.0)
    bridge.on_phase("completed", "done")  # flushes what is pending first
    await asyncio.sleep(0.05)
    batches = [i for i in got if isinstance(i, Tokens)]
    assert all(len(b.items) <= 100 for b in batches) and len(batches) >= 10
    seen = [tok for b in batches for tok in b.items]
    assert sorted(seen) == sorted((rid, k, 1_000 + k) for rid in range(4) for k in range(250))
    for rid in range(4):  # each thread's tokens keep their order
        assert [k for r, k, _ in seen if r == rid] == list(range(250))
    assert isinstance(got[-2], ProgressNote) and got[-1] == Phase("completed", "done", got[-1].t_ns)


async def test_a_batch_closes_when_its_first_token_is_old_enough() -> None:
    loop = asyncio.get_running_loop()
    got: list[Item] = []
    bridge = EventBridge(loop, got.extend, max_tokens=10_000, max_age_s=0.010)
    for k in range(5):
        bridge.on_token(7, k, k * 4_000_000)  # 4 ms apart: the 4th token is 12 ms after the first
    await asyncio.sleep(0.01)
    assert [len(i.items) for i in got if isinstance(i, Tokens)] == [4]
    bridge.close()
    bridge.on_token(7, 9, 10**10)  # after close: dropped, never delivered
    await asyncio.sleep(0.01)
    assert [len(i.items) for i in got if isinstance(i, Tokens)] == [4, 1]
