"""The delivery ledger in PostgreSQL: "was this delivery already sent?" and "it was sent now".

Both questions are asked by many concurrent deliveries; a :class:`Coalescer` turns them into one
query per batch (everything that arrived while the previous query ran), so the ledger costs a
round trip per batch, not per message. Rows are insert-if-absent (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg

T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 1000


class Coalescer(Generic[T, R]):
    """Runs ``fn(batch) -> results`` for items submitted concurrently; one call in flight at a time."""

    def __init__(self, fn: Callable[[list[T]], Awaitable[list[R]]], max_batch: int = MAX_BATCH) -> None:
        self._fn = fn
        self._max = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.calls = 0

    async def submit(self, item: T) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if self._runner is None:
            self._runner = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let the deliveries started in this tick join the batch
            while self._pending:
                batch, self._pending = self._pending[: self._max], self._pending[self._max :]
                self.calls += 1
                try:
                    results = await self._fn([item for item, _ in batch])
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), result in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(result)
        finally:
            self._runner = None


@dataclass(frozen=True)
class SentRow:
    delivery_id: str
    channel: str
    receiver: str
    alert_id: str
    fingerprint: str
    tenant: str
    attempt: int
    status_code: int | None


class Ledger:
    """Async ledger over two connections (lookups and inserts pipeline independently)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._read: psycopg.AsyncConnection[Any] | None = None
        self._write: psycopg.AsyncConnection[Any] | None = None
        self.lookups: Coalescer[str, bool] = Coalescer(self._lookup)
        self.inserts: Coalescer[SentRow, None] = Coalescer(self._insert)

    async def open(self) -> None:
        self._read = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        self._write = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)

    async def close(self) -> None:
        for conn in (self._read, self._write):
            if conn is not None:
                await conn.close()

    async def is_sent(self, delivery_id: str) -> bool:
        return await self.lookups.submit(delivery_id)

    async def mark_sent(self, row: SentRow) -> None:
        await self.inserts.submit(row)

    async def _lookup(self, ids: list[str]) -> list[bool]:
        assert self._read is not None
        cur = await self._read.execute(
            "SELECT delivery_id FROM delivery_ledger WHERE delivery_id = ANY(%s)", (list(set(ids)),)
        )
        found = {r[0] for r in await cur.fetchall()}
        return [i in found for i in ids]

    async def _insert(self, rows: list[SentRow]) -> list[None]:
        assert self._write is not None
        cols = list(zip(*[_row_tuple(r) for r in rows], strict=True))
        await self._write.execute(
            "INSERT INTO delivery_ledger"
            " (delivery_id, channel, receiver, alert_id, fingerprint, tenant, attempt, status_code)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::int[], %s::int[]) ON CONFLICT (delivery_id) DO NOTHING",
            [list(c) for c in cols],
        )
        return [None] * len(rows)


def _row_tuple(r: SentRow) -> Sequence[object]:
    return (r.delivery_id, r.channel, r.receiver, r.alert_id, r.fingerprint, r.tenant, r.attempt, r.status_code)
