"""Follow a whole (compacted) topic on a daemon thread: every process's global view of shared state.

The state every process must see whole — the live config (workers and deliver processes) and the
rate-limit counts (workers) — lives on compacted topics read from the beginning, all partitions,
without a consumer group (like a Faust GlobalTable). This is a plain confluent-kafka reader because
it must work before the Faust app has finished its first rebalance and must never be partitioned
across processes.

``on_message(key, value, partition, offset)`` runs on the follower's thread; callers that share
state with the event loop hand the message over (a deque, one immutable object) rather than
mutating loop-owned data.

Everything that talks to the broker — metadata, watermarks, polling — happens on the follower's
thread: :meth:`start` returns at once, so an event loop that starts a follower (the worker starts
two on Faust's loop) never waits for a slow or unreachable broker. Until the broker answers, the
thread retries (logging the first failure) and :meth:`wait_caught_up` keeps returning False.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from alertstream.runtime.kafka_clients import DEFAULT_FETCH_WAIT_MS, consumer_config

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes | None, bytes | None, int, int], None]
#: Per broker request while starting; short so that :meth:`TopicFollower.stop` is never kept waiting.
REQUEST_TIMEOUT_S = 1.0
#: How long the broker may hold a follower's empty fetch: a new record may wait that long.
FOLLOWER_FETCH_WAIT_MS = DEFAULT_FETCH_WAIT_MS


class TopicFollower:
    def __init__(self, bootstrap: str, topic: str, on_message: OnMessage, name: str) -> None:
        self.topic = topic
        self._on_message = on_message
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._ends: dict[int, int] = {}
        self._bootstrap = bootstrap
        self._group = f"alertstream-{name}-reader-{uuid.uuid4().hex[:8]}"  # never commits; no shared group
        self._consumer: Consumer | None = None  # created on the thread: an unstarted follower opens nothing
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start following on the follower's thread; returns at once (see the module docstring)."""
        self._thread.start()

    def _connect(self) -> Consumer | None:
        """On the thread: assign every partition from the beginning and note where "caught up" is.
        Retries until the broker answers; None when stopped first."""
        # shared state, not a pipeline hop: the long wait (idle followers cost the broker nothing),
        # whatever the pipeline's consumers use (runtime.kafka_clients)
        settings = {"enable.partition.eof": False, "fetch.wait.max.ms": FOLLOWER_FETCH_WAIT_MS}
        consumer = Consumer(consumer_config(self._bootstrap, self._group, **settings))
        self._consumer = consumer
        failures = 0
        while not self._stop.is_set():
            try:
                meta = consumer.list_topics(self.topic, timeout=REQUEST_TIMEOUT_S)
                partitions = meta.topics[self.topic].partitions if self.topic in meta.topics else {0: None}
                ends: dict[int, int] = {}
                for p in partitions:
                    low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=REQUEST_TIMEOUT_S)
                    if high > max(low, 0):
                        ends[p] = high
            except KafkaException as exc:
                if failures == 0:
                    log.warning("%s: broker not answering yet, retrying: %s", self.topic, exc)
                failures += 1
                continue
            self._ends = ends
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            if not ends:
                self._caught_up.set()
            return consumer
        return None

    def wait_caught_up(self, timeout: float) -> bool:
        """Block until everything on the topic at :meth:`start` has been read (or ``timeout``)."""
        return self._caught_up.wait(timeout)

    def stop(self) -> None:
        """Stop the thread; it closes its consumer itself (never closed under a running call)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            consumer = self._connect()
            if consumer is not None:
                self._follow(consumer)
        finally:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None

    def _follow(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("%s: %s", self.topic, error)
                continue
            partition, offset = msg.partition() or 0, msg.offset() or 0
            try:
                self._on_message(msg.key(), msg.value(), partition, offset)
            except Exception:  # a bad record must not end the follower
                log.exception("%s: record at partition %d offset %d not applied", self.topic, partition, offset)
            end = self._ends.get(partition)
            if end is not None and offset + 1 >= end:
                del self._ends[partition]
                if not self._ends:
                    self._caught_up.set()
