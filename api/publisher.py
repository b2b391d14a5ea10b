"""Publishing received alerts to ``events.alerts``: ``await publish(records)`` returns once the
broker has acknowledged every record of the request (acks=all, idempotent producer), or raises.

A request is answered 200 only when its alerts are on the broker, so a client that gets an error
(Prometheus retries its next batch) knows to send again, and nothing is acknowledged that could
still be lost. One future per *request*, not per record: the delivery reports of a batch count
down on the producer's poll thread and settle the request's future once (one
``call_soon_threadsafe`` per request), so a batch of 100 costs one wake-up of the event loop.
Nothing here blocks the loop: a full local queue is waited out with ``asyncio.sleep``, and a
broker that does not acknowledge within ``timeout`` seconds makes the request fail (503) rather
than hold it: the client sends it again, and the worker treats the duplicate as a redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from alertstream.runtime.kafka_clients import producer_config

#: How long a request waits for the broker's acknowledgements before it answers 503.
ACK_TIMEOUT_S = 10.0


class PublishFailed(Exception):
    """The records were not acknowledged (broker down, too large, timeout): the request fails."""


class _Batch:
    """The delivery reports of one request, counted on the poll thread."""

    __slots__ = ("error", "future", "loop", "pending")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[str | None] = loop.create_future()
        self.pending = count
        self.error: str | None = None

    def report(self, err: KafkaError | None, _msg: Message) -> None:  # on the poll thread
        if err is not None and self.error is None:
            self.error = err.str()
        self.pending -= 1
        if self.pending == 0:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                self.loop.call_soon_threadsafe(_settle, self.future, self.error)


def _settle(future: asyncio.Future[str | None], error: str | None) -> None:
    if not future.done():
        future.set_result(error)


class AlertPublisher:
    def __init__(self, bootstrap: str, topic: str, max_message_bytes: int) -> None:
        # no linger to speak of: a request's records are produced together and the client waits
        config = producer_config(bootstrap, max_message_bytes=max_message_bytes, **{"linger.ms": 1})
        self._producer = Producer(config)
        self.topic = topic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._poll, name="api-publisher", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def publish(self, records: list[tuple[bytes, bytes]], within: float = ACK_TIMEOUT_S) -> None:
        """Produce (key, value) records and wait until the broker has them all."""
        if not records:
            return
        batch = _Batch(asyncio.get_running_loop(), len(records))
        deadline = time.monotonic() + within
        produce = self._producer.produce
        topic = self.topic
        for key, value in records:
            while True:
                try:
                    produce(topic, value=value, key=key, on_delivery=batch.report)
                    break
                except BufferError:  # the local queue is full: the poll thread drains it as acks come
                    if time.monotonic() > deadline:
                        raise PublishFailed("the producer's queue stayed full") from None
                    await asyncio.sleep(0.005)
                except KafkaException as exc:
                    raise PublishFailed(exc.args[0].str()) from None
        try:
            error = await asyncio.wait_for(asyncio.shield(batch.future), max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            raise PublishFailed(f"not acknowledged within {within:g} s") from None
        if error is not None:
            raise PublishFailed(error)

    async def close(self, within: float = 5.0) -> int:
        """Flush for at most ``within`` seconds (off the event loop) and stop the poll thread."""
        remaining = await asyncio.to_thread(self._producer.flush, within)
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 1.0)
        return int(remaining)
