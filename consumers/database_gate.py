"""Whether the ledger's database answers. While it does not, deliver sends nothing.

A notification the ledger cannot record would be sent again after the next restart, so the first
failed ledger call closes the gate: no new send starts (each send waits on :meth:`wait_open`
right before it goes out), the loop pauses its partitions and keeps polling (the group membership
is kept), and one watcher reconnects with back-off until the database answers, then opens the gate.
Only deliveries already on the wire when it failed complete; they are recorded once it is back.

Bounded logging: one ERROR when the database goes, at most one WARNING a minute while it stays
away, one INFO when it is back — however many deliveries are waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

#: Reconnect back-off: first wait, growth factor, longest wait (seconds).
FIRST_WAIT, GROWTH, LONGEST_WAIT = 0.2, 2.0, 5.0
STILL_DOWN_EVERY = 60.0


def describe(exc: BaseException) -> str:
    """A bounded, secret-free description (psycopg messages can name the host, never the password)."""
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"


class DatabaseGate:
    def __init__(
        self,
        connect: Callable[[], Awaitable[None]],
        name: str,
        on_close: Callable[[], None] = lambda: None,
        on_open: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._connect = connect
        self.name = name
        self._on_close = on_close
        self._on_open = on_open
        self._open = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._closed_at = 0.0
        self.outages = 0

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait_open(self) -> None:
        await self._open.wait()

    async def first_open(self, stop: asyncio.Event) -> bool:
        """Connect at start, waiting for the database as long as it takes (or until ``stop``)."""
        self._closed_at = time.monotonic()
        if await self._reconnect(stop, first=True):
            self._open.set()
            return True
        return False

    def failed(self, exc: BaseException) -> None:
        """A ledger call failed for want of the database: close the gate (once) and reconnect."""
        if not self._open.is_set():
            return
        self._open.clear()
        self.outages += 1
        self._closed_at = time.monotonic()
        log.error("%s: database unavailable (%s): sending paused until it is back", self.name, describe(exc))
        self._on_close()
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        if await self._reconnect(None, first=False):
            self._open.set()
            log.info("%s: database back after %.1f s: sending resumed", self.name, time.monotonic() - self._closed_at)
            if self._on_open is not None:
                await self._on_open()

    async def _reconnect(self, stop: asyncio.Event | None, first: bool) -> bool:
        wait, logged = FIRST_WAIT, time.monotonic()
        while stop is None or not stop.is_set():
            try:
                await self._connect()
                return True
            except Exception as exc:
                now = time.monotonic()
                if first:
                    first = False
                    logged = now
                    log.error("%s: database unavailable (%s): waiting for it", self.name, describe(exc))
                elif now - logged >= STILL_DOWN_EVERY:
                    logged = now
                    log.warning("%s: database still unavailable after %.0f s", self.name, now - self._closed_at)
            if stop is None:
                await asyncio.sleep(wait)
            else:
                try:
                    async with asyncio.timeout(wait):
                        await stop.wait()
                except TimeoutError:
                    pass
            wait = min(wait * GROWTH, LONGEST_WAIT)
        return False

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
