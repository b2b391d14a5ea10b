"""The delivery ledger in PostgreSQL: "was this delivery already sent, and was a newer notification
of the same alert to the same receiver?" and "it was sent now".

Both questions are asked by many concurrent deliveries; a :class:`Coalescer` turns them into one
query per batch (everything that arrived while the previous query ran), so the ledger costs a
round trip per batch, not per message. Rows are insert-if-absent (``ON CONFLICT DO NOTHING``).

Two kinds of failure, kept apart (:func:`is_outage`): the database is unreachable (every caller
of the batch fails and waits for it to come back), or the database refuses one row (only that
row's caller fails: a batch that fails for any other reason is retried row by row).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg

T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 1000


def is_outage(exc: BaseException) -> bool:
    """The database (or the connection to it) is gone, as opposed to refusing this data."""
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError | TimeoutError)


class Coalescer(Generic[T, R]):
    """Runs ``fn(batch) -> results`` for items submitted concurrently; one call in flight at a time.

    When a batch fails with an outage (:func:`is_outage`) every caller gets the error; any other
    error is about some row, so the batch is run again one item at a time and only the items that
    fail alone get an error."""

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
                await self._run(batch, split=True)
        finally:
            self._runner = None

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]], split: bool) -> None:
        self.calls += 1
        try:
            results = await self._fn([item for item, _ in batch])
        except Exception as exc:
            if split and len(batch) > 1 and not is_outage(exc):
                for one in batch:  # find the row(s) at fault; the others go through
                    await self._run([one], split=False)
                return
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)


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
    #: the alert's ``last_seen``: its place in the evaluator's order for its fingerprint
    alert_last_seen: int | None = None


@dataclass(frozen=True)
class Lookup:
    delivery_id: str
    channel: str
    receiver: str
    fingerprint: str


@dataclass(frozen=True)
class LedgerState:
    """What the ledger knows before a send: this delivery was made, and the newest ``last_seen``
    among the deliveries of the same alert fingerprint to the same receiver (None: none yet)."""

    sent: bool
    newest_last_seen: int | None


class Ledger:
    """Async ledger over two connections (lookups and inserts pipeline independently)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._read: psycopg.AsyncConnection[Any] | None = None
        self._write: psycopg.AsyncConnection[Any] | None = None
        self.lookups: Coalescer[Lookup, LedgerState] = Coalescer(self._lookup)
        self.inserts: Coalescer[SentRow, None] = Coalescer(self._insert)

    async def open(self) -> None:
        self._read = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True, connect_timeout=5)
        self._write = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True, connect_timeout=5)

    async def reopen(self) -> None:
        """New connections after an outage (the old ones are broken)."""
        await self.close()
        await self.open()

    async def close(self) -> None:
        for conn in (self._read, self._write):
            if conn is not None:
                with contextlib.suppress(psycopg.Error, OSError):  # already broken
                    await conn.close()
        self._read = self._write = None

    async def state(self, lookup: Lookup) -> LedgerState:
        return await self.lookups.submit(lookup)

    async def mark_sent(self, row: SentRow) -> None:
        await self.inserts.submit(row)

    def _conn(self, conn: psycopg.AsyncConnection[Any] | None) -> psycopg.AsyncConnection[Any]:
        if conn is None or conn.closed:
            raise psycopg.OperationalError("no connection to the database")
        return conn

    async def _lookup(self, keys: list[Lookup]) -> list[LedgerState]:
        cur = await self._conn(self._read).execute(
            "SELECT EXISTS (SELECT 1 FROM delivery_ledger d WHERE d.delivery_id = k.delivery_id),"
            " (SELECT max(d.alert_last_seen) FROM delivery_ledger d WHERE d.fingerprint = k.fingerprint"
            "  AND d.receiver = k.receiver AND d.channel = k.channel)"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY"
            " AS k(delivery_id, channel, receiver, fingerprint, n) ORDER BY k.n",
            (
                [k.delivery_id for k in keys],
                [k.channel for k in keys],
                [k.receiver for k in keys],
                [k.fingerprint for k in keys],
            ),
        )
        return [LedgerState(bool(sent), newest) for sent, newest in await cur.fetchall()]

    async def _insert(self, rows: list[SentRow]) -> list[None]:
        cols = list(zip(*[_row_tuple(r) for r in rows], strict=True))
        await self._conn(self._write).execute(
            "INSERT INTO delivery_ledger"
            " (delivery_id, channel, receiver, alert_id, fingerprint, tenant, attempt, status_code, alert_last_seen)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::int[], %s::int[], %s::bigint[]) ON CONFLICT (delivery_id) DO NOTHING",
            [list(c) for c in cols],
        )
        return [None] * len(rows)


def _row_tuple(r: SentRow) -> Sequence[object]:
    return (
        r.delivery_id,
        r.channel,
        r.receiver,
        r.alert_id,
        r.fingerprint,
        r.tenant,
        r.attempt,
        r.status_code,
        r.alert_last_seen,
    )
