"""The lifecycle inside the worker: its table, its three topic followers, its tick — a thin shell.

* **Global views** (every worker the same): silences (compacted ``alertstream.silences``), the
  firing alerts that can inhibit others (compacted ``alertstream.firing``, which the workers
  themselves write: a label set when an episode starts firing, a tombstone when it ends) and user
  actions (compacted ``alertstream.actions``). Each is read whole by a
  :class:`~alertstream.runtime.topic_follower.TopicFollower` on its own thread and handed to the
  event loop through a deque, drained before every batch and every tick.
* **Per-partition state**: the episode rows (the evaluator's table) and the ``lifecycle`` table
  (:class:`~.lifecycle_state.Entry` per fingerprint with lifecycle work), changelogged to the
  partition of the events, so a restart or a rebalance recovers them where the partition goes.
* **The tick** (every second, never during a rebalance or a table recovery): pending user actions
  whose episode this worker owns are applied; the entries of owned partitions are handed to
  :meth:`Lifecycle.tick`. An action whose owner is not here waits up to
  :data:`~.lifecycle.PENDING_ACTION_MS` (a rebalance in progress) and is then dropped: its owner applied it.
* **Views first**: no batch is evaluated and no tick runs until the silences, firing and actions
  topics have been read to the end they had at start (at most :data:`VIEWS_CATCH_UP_S`, then a
  warning): a restarted worker must not notify an alert whose silence it has not read yet, nor
  release a hold restored from its changelog because the silence holding it is not in its view
  yet, nor escalate an alert whose acknowledgement a SIGKILL kept out of the changelog (the ack is
  on the actions topic: it is applied again first).
* **An action before the timers**: a tick that applies an action to an episode leaves that
  episode's timers to the next tick, which sees the state the action made (an acknowledgement and
  an escalation of the same episode never come out of one tick).
* **One writer at a time**: batches and ticks share a lock, so a tick never interleaves with a
  batch between its reads and its writes.
* **Order**: like every batch — alerts acknowledged by the broker, then the lifecycle entries and
  firing-view records, then the episode rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import faust

from alertstream.runtime.topic_follower import TopicFollower
from alertstream.schemas import topics as t
from alertstream.schemas.actions import Action, ActionError
from alertstream.schemas.config import AlertstreamConfig
from alertstream.schemas.silences import Silence, SilenceError
from alertstream.streams.changelog_seal import ChangelogSeal
from alertstream.streams.evaluator import BatchResult, Compiled
from alertstream.streams.lifecycle import Lifecycle, note_action
from alertstream.streams.lifecycle_config import LifecycleConfig
from alertstream.streams.lifecycle_state import Changes

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 1.0
#: How long the first batch and tick wait for the silences, firing and actions topics to be read to their end.
VIEWS_CATCH_UP_S = 60.0


class WorkerSide(Protocol):
    """What the shell uses of :class:`alertstream.streams.worker.WorkerApp`."""

    state: Any

    async def _apply(self, result: BatchResult) -> None: ...


class LifecycleShell:
    def __init__(
        self,
        app: Any,
        worker: WorkerSide,
        bootstrap: str,
        topics: t.TopicNames,
        config: AlertstreamConfig,
        partitions: int,
        table_class: type[faust.Table],  # type: ignore[type-arg]
        sources: frozenset[str],
    ) -> None:
        from alertstream.runtime import metrics

        self.app = app
        self.worker = worker
        self.sources = sources
        self.core = Lifecycle(LifecycleConfig.from_config(config), time.time)
        self._compiled: Compiled | None = None
        self.table: Any = app.tables.add(
            table_class(
                app,
                name="lifecycle",
                default=None,
                beacon=app.tables.beacon,
                partitions=partitions,
                schema=faust.Schema(key_serializer="json", value_serializer="json"),
            )
        )
        self.firing_out = app.topic(topics.firing, key_serializer="raw", value_serializer="raw")
        self.inbox: deque[tuple[str, Any]] = deque()
        #: what a decision reads; all three are read to their end before the first batch or tick
        self.views = [
            TopicFollower(bootstrap, topics.silences, self._on_silence, "silences"),
            TopicFollower(bootstrap, topics.firing, self._on_firing, "firing-view"),
            TopicFollower(bootstrap, topics.actions, self._on_action, "actions"),
        ]
        self.followers = list(self.views)
        self.pending: dict[str, Action] = {}
        self.views_ready = False
        self.active: set[int] = set()
        self.lock = asyncio.Lock()
        self._stash = Changes()
        self.seal = ChangelogSeal(app, self.table)
        self.view_size = metrics.LIFECYCLE_VIEW
        app.on_partitions_assigned.connect(self._on_assigned)
        app.timer(TICK_INTERVAL_S)(self._tick)
        app.timer(TICK_INTERVAL_S)(self.seal.seal_quiet)

    def start(self) -> None:
        for follower in self.followers:
            follower.start()

    def stop(self) -> None:
        for follower in self.followers:
            follower.stop()

    def locked(self, handler: Callable[[Sequence[Any]], Awaitable[None]]) -> Callable[[Sequence[Any]], Awaitable[None]]:
        async def run(batch: Sequence[Any]) -> None:
            await self.wait_views()
            async with self.lock:
                await handler(batch)

        return run

    async def wait_views(self) -> None:
        """Once: until the silences, firing and actions topics are read to their end (off the loop)."""
        if self.views_ready:
            return
        views = self.views
        caught_up = await asyncio.to_thread(lambda: all(f.wait_caught_up(VIEWS_CATCH_UP_S) for f in views))
        if not caught_up:
            log.warning("lifecycle views not read to their end in %.0fs: evaluating anyway", VIEWS_CATCH_UP_S)
        self.views_ready = True

    # -- follower threads: parse, hand over -----------------------------------------------------

    def _on_silence(self, key: bytes | None, value: bytes | None, _p: int, offset: int) -> None:
        if value is None:
            if key is not None:
                self.inbox.append(("silence-", key.decode("utf-8", "replace")))
            return
        try:
            self.inbox.append(("silence", Silence.from_json(value)))
        except SilenceError as exc:
            log.warning("silences offset %d ignored: %s", offset, exc)

    def _on_action(self, _key: bytes | None, value: bytes | None, _p: int, offset: int) -> None:
        if value is None:
            return
        try:
            self.inbox.append(("action", Action.from_json(value)))
        except ActionError as exc:
            log.warning("actions offset %d ignored: %s", offset, exc)

    def _on_firing(self, key: bytes | None, value: bytes | None, _p: int, _offset: int) -> None:
        if key is None:
            return
        labels = None
        if value is not None:
            try:
                data = json.loads(value)
                labels = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None
            except ValueError:
                return
        self.inbox.append(("firing", (key.decode("utf-8", "replace"), labels)))

    def drain(self) -> None:
        """Apply what the followers read (event loop; before each batch and tick)."""
        core = self.core
        compiled = getattr(self.worker, "evaluator", None)
        current = compiled.compiled if compiled is not None else None
        if current is not None and current is not self._compiled and current.config is not None:
            self._compiled = current
            core.reconfigure(LifecycleConfig.from_config(current.config))
        inbox = self.inbox
        while inbox:
            kind, item = inbox.popleft()
            if kind == "silence":
                core.put_silence(item)
            elif kind == "silence-":
                core.drop_silence(item)
            elif kind == "action":
                note_action(self.pending, item)
            else:
                fp, labels = item
                if labels is None:
                    core.view.drop(fp)
                else:
                    core.view.put(fp, labels)
        self.view_size.labels(view="silences").set(len(core.silences))
        self.view_size.labels(view="firing").set(len(core.view.firing))

    # -- the batch path -----------------------------------------------------------------------------

    def after_batch(self, events: Sequence[Any], result: BatchResult) -> BatchResult:
        """The batch's result as it goes out; its entries and firing records wait in the stash
        until :meth:`before_state_writes` (after the alerts are acknowledged)."""
        self.drain()
        changes = self.core.after_batch(events, result, self.worker.state.get, self.table.get)
        self._stash.merge(Changes(entries=changes.entries, firing=changes.firing))
        result.alerts = changes.alerts
        result.writes = changes.writes
        result.suppressed.update(changes.suppressed)
        return result

    def before_state_writes(self) -> None:
        """Called by the worker between its alerts' acknowledgements and its state writes."""
        stash, self._stash = self._stash, Changes()
        table = self.table
        for fp, (partition, value) in stash.entries.items():
            self.seal.wrote(partition)
            table.write_partition = partition
            if value is None:
                if fp in table:
                    del table[fp]
            else:
                table[fp] = value
        for fp, labels in stash.firing.items():
            doc = None if labels is None else json.dumps(labels, separators=(",", ":")).encode()
            self.firing_out.send_soon(key=fp.encode(), value=doc)
            if labels is None:  # this worker's own view at once (the follower brings it too)
                self.core.view.drop(fp)
            else:
                self.core.view.put(fp, labels)

    # -- the tick -----------------------------------------------------------------------------------

    async def _on_assigned(self, _sender: Any, /, *args: Any, signal: Any, **_kwargs: Any) -> None:
        self.active = {tp.partition for tp in args[0] if tp.topic in self.sources}
        self.core.sweep_next()  # the entries of partitions new here are on no watch yet

    def _ready(self) -> bool:
        consumer: Any = getattr(self.app, "_consumer", None)
        return bool(self.active) and consumer is not None and consumer.flow_active and not self.app.rebalancing

    async def _tick(self) -> None:
        if not self._ready():
            return
        await self.wait_views()
        async with self.lock:
            if not self._ready():
                return
            self.drain()
            table = self.table
            changes = self.core.step(
                self.pending, list(table.items()), self.worker.state.get, table.get, self.active.__contains__
            )
            if not (changes.alerts or changes.writes or changes.entries or changes.firing):
                return
            for fp, what in changes.decisions:
                log.debug("lifecycle %s: %s", fp, what)
            self._stash.merge(Changes(entries=changes.entries, firing=changes.firing))
            result = BatchResult(alerts=changes.alerts, writes=changes.writes, suppressed=changes.suppressed)
            await self.worker._apply(result)  # alerts, then before_state_writes(), then the rows
