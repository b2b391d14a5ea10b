from __future__ import annotations

import asyncio

import psycopg

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


async def test_an_outage_fails_the_batch_s_callers_only() -> None:
    calls = 0

    async def fn(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise psycopg.OperationalError("db down")
        return items

    c: Coalescer[int, int] = Coalescer(fn)
    first = await asyncio.gather(*(c.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, psycopg.OperationalError) for r in first)
    assert calls == 1, "an outage is not retried row by row"
    assert await c.submit(7) == 7


async def test_a_row_the_database_refuses_fails_alone() -> None:
    async def fn(items: list[int]) -> list[int]:
        if 13 in items:
            raise psycopg.errors.NumericValueOutOfRange("integer out of range")
        return [i * 2 for i in items]

    c: Coalescer[int, int] = Coalescer(fn)
    results = await asyncio.gather(*(c.submit(i) for i in (1, 13, 3)), return_exceptions=True)
    assert results[0] == 2
    assert isinstance(results[1], psycopg.errors.NumericValueOutOfRange)
    assert results[2] == 6
    assert c.calls == 4, "the batch, then each row alone"
