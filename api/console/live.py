"""`GET /api/v1/live`: the history's changes as Server-Sent Events, for pages that update without
a reload.

One poller per API process follows the audit log by its id (:mod:`.live_cursor`: no change
skipped when transactions commit out of order, none sent twice) every ``POLL_SECONDS`` while at
least one stream is open, and fans each change out to the streams whose tenant scope may see it.
So a thousand open consoles cost one indexed query per half second, not a thousand, and the
store needs no trigger: it writes its rows as before (``LISTEN/NOTIFY`` would put a trigger on
every audit insert and a cluster-wide lock on every commit of the store's batches).

A stream starts with ``ready`` once the poller has its position — a page loads its view *after*
that, so nothing falls between the view and the first change — then sends ``change`` events (one
per audit row: id, time, action, actor, alert id, fingerprint, and the alert's headline fields),
``reset`` when the page should reload its view (it fell behind by more than ``QUEUE_SIZE`` changes,
or the database was unreachable for a while: ``stale`` said so), a comment every
``KEEPALIVE_SECONDS``, and ``bye`` when the key is revoked (checked every ``RECHECK_KEY_SECONDS``)
or the server stops. Browsers' EventSource cannot send an Authorization header, so the console
reads the stream with ``fetch`` (the key stays out of the URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from psycopg_pool import AsyncConnectionPool

from alertstream.api.auth import Caller, KeyCache, Principal
from alertstream.api.console import sse
from alertstream.api.console.live_cursor import FeedCursor
from alertstream.api.problems import ApiProblem
from alertstream.api.routes import Name, _scope

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 10.0
RECHECK_KEY_SECONDS = 30.0
#: a transaction that commits this long after inserting its audit rows may be missed (live_cursor)
HOLE_WAIT_SECONDS = 30.0
#: ids below the newest one, at start, that may still commit (their holes are watched)
START_LOOKBACK_IDS = 1000
BATCH = 2000
QUEUE_SIZE = 1000
MAX_STREAMS = 500

_COLUMNS = (
    "l.id, l.at, l.actor, l.action, l.reason, l.tenant, l.alert_id, l.fingerprint, l.delivery_id,"
    " a.severity, a.status, a.rule_id, a.summary, a.entity"
)
_FRESH = (
    f"SELECT {_COLUMNS} FROM audit_log l LEFT JOIN alerts a ON a.alert_id = l.alert_id"  # noqa: S608
    " WHERE l.id > %s ORDER BY l.id LIMIT %s"
)
_HOLES = (
    f"SELECT {_COLUMNS} FROM unnest(%s::bigint[], %s::bigint[]) AS h(low, high)"  # noqa: S608
    " JOIN audit_log l ON l.id BETWEEN h.low AND h.high LEFT JOIN alerts a ON a.alert_id = l.alert_id ORDER BY l.id"
)
_RECENT = "SELECT id FROM audit_log WHERE id > (SELECT coalesce(max(id), 0) FROM audit_log) - %s"

router = APIRouter()


@dataclass(eq=False)
class Subscription:
    scope: str | None  # None: every tenant (an admin key without a tenant filter)
    queue: asyncio.Queue[sse.Change | str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    #: more changes arrived than the queue holds: the page must reload its view (``reset``)
    overflowed: bool = False

    def offer(self, item: sse.Change | str) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class LiveFeed:
    """The one poller of this process, running while some stream is subscribed."""

    def __init__(self, pool: AsyncConnectionPool[Any], poll: float = POLL_SECONDS) -> None:
        self._pool = pool
        self._poll = poll
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._positioned = asyncio.Event()
        self.cursor: FeedCursor | None = None

    @property
    def streams(self) -> int:
        return len(self._subs)

    def subscribe(self, scope: str | None) -> Subscription:
        if len(self._subs) >= MAX_STREAMS:
            raise ApiProblem(503, f"{MAX_STREAMS} live streams are open on this server", "unavailable")
        sub = Subscription(scope)
        self._subs.add(sub)
        if self._task is None:
            self._positioned = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="console-live-feed")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        if not self._subs:
            self.stop()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self.cursor = None

    async def positioned(self, within: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._positioned.wait(), within)
        return self._positioned.is_set()

    async def _run(self) -> None:
        healthy = True
        while True:
            try:
                more = await self._step()
                if not healthy:
                    healthy = True
                    self._broadcast("reset")  # the view may have missed changes meanwhile
                delay = 0.0 if more else self._poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down or refused: keep trying, say so once
                if healthy:
                    log.warning("console live feed: cannot read the audit log (%s); retrying", type(exc).__name__)
                    self._broadcast("stale")
                    healthy = False
                delay = 2.0
            await asyncio.sleep(delay)

    async def _step(self) -> bool:
        """One poll; True when it read a full batch (poll again at once)."""
        now = time.monotonic()
        async with self._pool.connection() as conn:
            if self.cursor is None:
                recent = [r["id"] for r in await (await conn.execute(_RECENT, (START_LOOKBACK_IDS,))).fetchall()]
                low = max(0, max(recent, default=0) - START_LOOKBACK_IDS)
                self.cursor, _ = FeedCursor(low).advance(recent, now, wait=HOLE_WAIT_SECONDS)
                self._positioned.set()
                return False
            cursor = self.cursor
            rows = await (await conn.execute(_FRESH, (cursor.top, BATCH))).fetchall()
            if cursor.holes:
                lows, highs = [h.low for h in cursor.holes], [h.high for h in cursor.holes]
                rows += await (await conn.execute(_HOLES, (lows, highs))).fetchall()
        by_id = {int(r["id"]): r for r in rows}
        self.cursor, deliver = cursor.advance(by_id, now, wait=HOLE_WAIT_SECONDS)
        for i in deliver:
            change = sse.Change.from_row(by_id[i])
            for sub in self._subs:
                if change.visible_to(sub.scope):
                    sub.offer(change)
        return len(rows) >= BATCH

    def _broadcast(self, marker: str) -> None:
        for sub in self._subs:
            sub.offer(marker)


def feed_of(app: FastAPI) -> LiveFeed:
    feed: LiveFeed | None = getattr(app.state, "console_live", None)
    if feed is None:
        feed = app.state.console_live = LiveFeed(app.state.pool)
    return feed


@router.get("/api/v1/live", include_in_schema=False)
async def live(request: Request, caller: Caller, tenant: Name = None) -> StreamingResponse:
    """The change stream (text/event-stream); left out of the OpenAPI schema, which cannot describe
    an endless body (documented in api/README.md)."""
    scope = _scope(caller, tenant)
    feed = feed_of(request.app)
    sub = feed.subscribe(scope)
    return StreamingResponse(
        _frames(request, feed, sub, caller),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _frames(request: Request, feed: LiveFeed, sub: Subscription, caller: Principal) -> AsyncIterator[bytes]:
    stopping = getattr(request.app.state, "stopping", None)
    keys: KeyCache = request.app.state.keys
    try:
        if not await feed.positioned(within=10):
            yield sse.frame("stale", {"detail": "the history database does not answer"})
        yield sse.retry() + sse.frame("ready", {"scope": sub.scope, "admin": caller.tenant is None})
        wrote = checked = time.monotonic()
        while stopping is None or not stopping.is_set():
            chunk = await _next_chunk(sub)
            now = time.monotonic()
            if sub.overflowed and sub.queue.empty():
                sub.overflowed = False
                chunk += sse.frame("reset", {"detail": "more changes than this stream holds: reload the view"})
            if now - checked > RECHECK_KEY_SECONDS:
                checked = now
                entry = await keys.lookup(caller.key_id, now)
                if entry.digest is None:
                    yield chunk + sse.frame("bye", {"detail": "the API key was revoked"})
                    return
            if not chunk and now - wrote > KEEPALIVE_SECONDS:
                chunk = sse.comment("keepalive")
            if chunk:
                wrote = now
                yield chunk
        yield sse.frame("bye", {"detail": "the server is stopping"})
    finally:
        feed.unsubscribe(sub)


async def _next_chunk(sub: Subscription, most: int = 200) -> bytes:
    """The frames of the changes waiting (at most ``most``), or b"" after ``POLL_SECONDS``."""
    try:
        first = await asyncio.wait_for(sub.queue.get(), POLL_SECONDS)
    except TimeoutError:
        return b""
    items = [first]
    while len(items) < most and not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    out = b""
    for item in items:
        if isinstance(item, sse.Change):
            out += sse.frame("change", item.data(), item.id)
        else:
            out += sse.frame(item, {})
    return out
