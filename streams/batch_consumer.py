"""A Faust consumer that hands whole fetches of the input topics to one synchronous handler.

Why: measured here, Faust's per-message path (``Consumer._drain_messages`` awaiting
``wait_first(callback(message), …)`` per message — two tasks each — then the conductor, the
channel queue and the stream iterator) tops out near 12k messages/s with an agent that does
*nothing*, below the 15k events/s target before any decoding or evaluation. Everything the
evaluator needs from Faust — group membership and partition assignment, changelog-backed tables
with recovery, offset tracking and commits, the buffered producer — is kept; only the
per-message delivery of the evaluator's own input topics is replaced by: fetch -> track -> handle
the list in one (awaited) call -> ack each message. Faust's commit logic then commits acked offsets as
usual (after flushing the producer: at-least-once).

Messages of every other topic (table changelogs during recovery, anything else) go through
Faust's normal per-message callback unchanged. Messages fetched under an older consumer
generation (before a rebalance) are neither handled nor acked, exactly as Faust's stream skips
them, so they are fetched again by whoever owns the partition now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from alertstream.runtime.kafka_clients import fetch_wait_ms

#: Messages handed to the handler per call; between calls the event loop runs (heartbeats, I/O).
CHUNK = 4000
#: Faust hard-codes aiokafka's fetch_max_wait_ms=1500; the local broker holds an empty fetch for
#: that long, which showed up as ~0.4 s of event->alert latency at low rates. So the worker uses
#: the one fetch-wait setting of every consumer (runtime.kafka_clients.fetch_wait_ms).

#: Awaited before the batch is acked: the worker waits there for its alerts' acknowledgements.
BulkHandler = Callable[[Sequence[Any]], Awaitable[None]]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = fetch_wait_ms()
        return consumer


class BatchConsumer(faust_aiokafka.Consumer):
    """Reads ``app.bulk_topics`` in bulk and passes them to ``app.bulk_handler``."""

    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        app = self.app
        bulk_topics: frozenset[str] = getattr(app, "bulk_topics", frozenset())
        handler: BulkHandler | None = getattr(app, "bulk_handler", None)
        if not bulk_topics or handler is None:
            await super()._drain_messages(fetcher)
            return
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        acks_enabled_for = app.topics.acks_enabled_for
        on_poll: Callable[[], None] = getattr(app, "on_poll", None) or (lambda: None)
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                on_poll()  # liveness: this loop iterates at least every second, idle or not
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if self.should_stop:
                    continue
                bulk: list[Any] = []
                async for tp, message in ait:
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and offset < r_offset:
                        continue
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    if message.topic in bulk_topics:
                        bulk.append(message)
                        set_read_offset(tp, offset)
                        if len(bulk) >= CHUNK:
                            await self._handle_bulk(bulk, handler)
                            bulk = []
                    else:
                        if bulk:
                            await self._handle_bulk(bulk, handler)
                            bulk = []
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        set_read_offset(tp, offset)
                if bulk:
                    await self._handle_bulk(bulk, handler)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    async def _handle_bulk(self, bulk: list[Any], handler: BulkHandler) -> None:
        app = self.app
        if not app.flow_control.is_active():
            return  # rebalancing: not acked, so fetched again from the committed offset
        generation = app.consumer_generation_id
        messages = [m for m in bulk if m.generation_id == generation]
        prepare = getattr(app, "bulk_prepare", None)
        if prepare is not None and not await prepare(messages):
            return  # stopping or rebalanced while it waited: not acked, so fetched again
        unacked = self._unacked_messages
        on_in = self._on_message_in
        for m in messages:
            if not m.tracked:
                m.tracked = True
                unacked.add(m)
                on_in(m.tp, m.offset, m)
        await handler(messages)
        ack = self.ack
        for m in messages:
            ack(m)
        await app.producer.buffer.wait_until_ebb()
        await asyncio.sleep(0)


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class BatchApp(faust.App):
    """A Faust app whose consumer delivers ``bulk_topics`` to ``bulk_handler`` in bulk."""

    bulk_topics: frozenset[str] = frozenset()
    bulk_handler: BulkHandler | None = None
    #: Called on every iteration of the fetch loop (the worker's health beat).
    on_poll: Callable[[], None] | None = None
    #: Awaited before a bulk is handled (the worker waits out a schema registry outage there);
    #: False = hand the bulk back unhandled and unacked.
    bulk_prepare: Callable[[Sequence[Any]], Awaitable[bool]] | None = None

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)
