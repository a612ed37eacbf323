"""The event ring: contiguous sequence numbers, resume, bounded lag, many readers."""

from __future__ import annotations

import asyncio

import pytest

from wattfleet.agent.service.events import EventLog, FellBehind, ResumeGone


async def _collect(log: EventLog[int], after_seq: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    async for first, items in log.follow(after_seq, limit=7):
        out.extend((first + i, item) for i, item in enumerate(items))
    return out


async def test_follow_sees_every_item_once_in_order_while_writer_runs() -> None:
    log: EventLog[int] = EventLog(64)
    readers = [asyncio.create_task(_collect(log, 0)) for _ in range(3)]
    for i in range(1, 201):
        log.append(i * 10)
        if i % 16 == 0:
            await asyncio.sleep(0)  # let readers catch up: ring is 64
    log.close()
    for got in await asyncio.gather(*readers):
        assert [s for s, _ in got] == list(range(1, 201))
        assert [v for _, v in got] == [s * 10 for s in range(1, 201)]


async def test_resume_from_middle_and_from_the_end() -> None:
    log: EventLog[int] = EventLog(100)
    for i in range(1, 51):
        log.append(i)
    log.close()
    got = await _collect(log, 20)
    assert [s for s, _ in got] == list(range(21, 51))
    assert await _collect(log, 50) == []


async def test_resume_point_gone_raises_with_advice() -> None:
    log: EventLog[int] = EventLog(10)
    for i in range(1, 26):
        log.append(i)
    assert (log.first_seq, log.last_seq) == (16, 25)
    with pytest.raises(ResumeGone, match="GetRun"):
        await _collect(log, 3)
    log.close()
    assert [s for s, _ in await _collect(log, 15)] == list(range(16, 26))


async def test_a_reader_that_never_reads_does_not_block_the_writer_and_is_told_it_fell_behind() -> None:
    log: EventLog[int] = EventLog(8)
    slow = log.follow(0, limit=1)
    first, items = await anext_or_none(slow, log)
    assert (first, items) == (1, [1])
    for i in range(2, 40):  # the writer never waits
        log.append(i)
    with pytest.raises(FellBehind, match="fell behind"):
        await slow.__anext__()
    assert log.last_seq == 39


async def anext_or_none(gen, log: EventLog[int]):  # type: ignore[no-untyped-def]
    task = asyncio.ensure_future(gen.__anext__())
    await asyncio.sleep(0)
    log.append(1)
    return await task


async def test_waiting_reader_wakes_on_close() -> None:
    log: EventLog[int] = EventLog(4)
    task = asyncio.create_task(_collect(log, 0))
    await asyncio.sleep(0.01)
    assert not task.done()
    log.close()
    assert await asyncio.wait_for(task, 1.0) == []
