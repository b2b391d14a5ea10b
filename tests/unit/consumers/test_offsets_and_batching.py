from __future__ import annotations

import asyncio

from alertstream.consumers.ledger import Coalescer
from alertstream.consumers.offsets import PartitionOffsets


def test_commit_offset_is_the_first_unfinished() -> None:
    p = PartitionOffsets()
    for o in (10, 11, 12, 13):
        p.add(o)
    p.done(12)
    assert p.next_commit is None
    p.done(10)
    assert p.next_commit == 11
    p.done(11)
    assert p.next_commit == 13
    assert p.in_flight == 1
    p.done(13)
    assert p.next_commit == 14
    assert p.in_flight == 0


async def test_concurrent_submissions_become_few_batches() -> None:
    batches: list[list[int]] = []

    async def fn(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.01)
        return [i * 2 for i in items]

    c: Coalescer[int, int] = Coalescer(fn)
    results = await asyncio.gather(*(c.submit(i) for i in range(500)))
    assert results == [i * 2 for i in range(500)]
    assert len(batches) == 1
    assert sorted(i for b in batches for i in b) == list(range(500))


async def test_a_failed_batch_fails_its_callers_only() -> None:
    calls = 0

    async def fn(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("db down")
        return items

    c: Coalescer[int, int] = Coalescer(fn)
    first = await asyncio.gather(*(c.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in first)
    assert await c.submit(7) == 7
