"""A librdkafka producer for asyncio: ``await send(...)`` returns once the broker has the message.

The deliver loop commits a message's offset only after everything it produced for it (retry task,
DLQ entry, outcome) is acknowledged, so no commit ever needs a ``flush()``, and nothing here ever
blocks the event loop: a full queue (the broker slow or gone) is waited out with ``asyncio.sleep``,
acknowledgements arrive from the poll thread through ``call_soon_threadsafe``, all those of one
``poll()`` in one call.

Errors, classified:

* :class:`TooLarge` — the message is over ``message.max.bytes`` (refused at once) or the broker's
  limit (refused on delivery): the caller sets it aside; retrying cannot help.
* a fatal producer error (idempotence broken) — :class:`ProducerFatal`: the process must stop
  with nothing committed, and a new producer is built on restart.
* anything else (the broker unreachable for ``message.timeout.ms``, a leader change): the message
  is produced again after a back-off, for as long as it takes (the offset stays uncommitted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger(__name__)

Headers = list[tuple[str, str | bytes | None]]
#: What a record costs beyond key, value and headers (Kafka record batch v2 framing), with room.
RECORD_OVERHEAD = 512


class TooLarge(Exception):
    """Over the producer's or the broker's message size limit."""


class ProducerFatal(Exception):
    """The producer instance cannot go on (librdkafka fatal error)."""


def record_size(key: bytes | None, value: bytes, headers: Headers | None) -> int:
    """The size librdkafka compares with ``message.max.bytes`` (key + value + headers + framing)."""
    size = len(key or b"") + len(value) + RECORD_OVERHEAD
    for name, v in headers or []:
        size += len(name) + (len(v) if v is not None else 0)
    return size


class AckedProducer:
    def __init__(self, config: dict[str, Any], name: str) -> None:
        self._producer = Producer(config)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"producer-{name}", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry_logged = 0.0
        self.name = name
        # acknowledgements gathered during one poll() and handed to the loop in one call: one
        # wake-up of the event loop per poll, not one per message (measured: the per-message
        # call_soon_threadsafe was a visible share of deliver's CPU in a burst)
        self._acks: list[tuple[asyncio.Future[KafkaError | None], KafkaError | None]] = []
        self._acks_lock = threading.Lock()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)
            self._hand_over()

    def _hand_over(self) -> None:
        """Settle the futures of the acknowledgements gathered so far, on the event loop."""
        with self._acks_lock:
            acks, self._acks = self._acks, []
        if acks and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                self._loop.call_soon_threadsafe(_settle_all, acks)

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> None:
        """Produce and wait for the acknowledgement; raises TooLarge or ProducerFatal."""
        backoff = 0.005
        while True:
            fut = await self._enqueue(topic, key, value, headers)
            err: KafkaError | None = await fut
            if err is None:
                return
            if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                raise TooLarge(err.str())
            if err.fatal():
                raise ProducerFatal(err.str())
            self._log_retry(topic, err)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 4, 2.0)

    async def _enqueue(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers | None
    ) -> asyncio.Future[KafkaError | None]:
        loop = self._loop
        assert loop is not None
        fut: asyncio.Future[KafkaError | None] = loop.create_future()
        acks_lock = self._acks_lock

        def report(err: KafkaError | None, _msg: Message) -> None:  # in poll() / flush(), on their thread
            with acks_lock:
                self._acks.append((fut, err))

        backoff = 0.002
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=report)
                return fut
            except BufferError:  # the queue is full: the poll thread drains it as the broker acks
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 0.2)
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    raise TooLarge(err.str()) from None
                if err.fatal():
                    raise ProducerFatal(err.str()) from None
                self._log_retry(topic, err)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 4, 2.0)

    def _log_retry(self, topic: str, err: KafkaError) -> None:
        now = time.monotonic()
        if now - self._retry_logged >= 60:  # one line a minute, however many messages wait
            self._retry_logged = now
            log.warning("%s: producing to %s failed (%s); trying again", self.name, topic, err.str())

    async def close(self, within: float) -> int:
        """Flush for at most ``within`` seconds (off the event loop) and stop; returns the number of
        messages still unacknowledged (their offsets were not committed)."""
        remaining = await asyncio.to_thread(self._producer.flush, max(0.0, within))
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 1.0)
        self._hand_over()  # what flush() acknowledged
        return int(remaining)


def _settle_all(acks: list[tuple[asyncio.Future[KafkaError | None], KafkaError | None]]) -> None:
    for fut, err in acks:
        if not fut.done():
            fut.set_result(err)
