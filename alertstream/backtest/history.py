"""Read the recorded input events of a time range from the broker, read-only.

The consumer is *assigned* the partitions of ``events.metric``, ``events.drift`` and ``events.alerts``
(alerts received from other systems: Alertmanager's ``POST /api/v2/alerts``) at the offsets
``offsets_for_times`` gives for the start (record timestamps), with a throw-away group id and
``enable.auto.commit`` off: it joins no group, commits nothing and produces nothing, so no
consumer group's offset moves. A partition is done at its first record past the end of the
window; reading stops when every partition is done or nothing new arrived for ``idle_seconds``
(the local broker's high watermarks are not exact, so "idle" is the reliable end of a topic).

The **lifecycle's inputs** are read too: the silences topic whole (a silence made before the
window can hold alerts in it) and the user actions (acknowledge, resolve…) of the window, each
as of the record time the worker would have read it. A silence's first version counts from its
start when that is earlier (a compacted topic keeps only a silence's latest version: its
creation record may be gone, its ``starts_at`` is not).

Records are decoded and validated by the worker's own ingest (:class:`alertstream.streams.ingest.Ingest`
and :class:`~alertstream.streams.ingest.ExternalIngest`, as of their record time), so an event the
worker refused is refused here too (counted, skipped). Each partition keeps its offset order;
partitions are merged by record time, as the worker interleaves its fetches.
"""

from __future__ import annotations

import heapq
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from alertstream.backtest.replay import Noted, Recorded
from alertstream.runtime.kafka_clients import consumer_config
from alertstream.schemas.actions import Action, ActionError
from alertstream.schemas.codec import Codec
from alertstream.schemas.silences import Silence, SilenceError
from alertstream.schemas.topics import TopicNames
from alertstream.streams.ingest import ExternalIngest, Ingest, Invalid


@dataclass
class History:
    """The events of the window (in replay order) and what was skipped."""

    events: list[Recorded] = field(default_factory=list)
    #: silences and user actions, in the order of the time they take effect
    lifecycle: list[Noted] = field(default_factory=list)
    read: int = 0
    invalid: int = 0
    other_tenants: int = 0
    #: Seconds from the start of reading to the last record read, plus the merge (the bench's
    #: read time: the idle wait that ends a read is not part of it).
    reading_seconds: float = 0.0


def read_history(
    bootstrap: str,
    topics: TopicNames,
    codec: Codec,
    start_ms: int,
    end_ms: int,
    *,
    tenant: str | None = None,
    idle_seconds: float = 2.0,
    timeout: float = 600.0,
) -> History:
    """Every valid event recorded in [start_ms, end_ms] (record time), optionally of one tenant."""
    ingest: dict[str, Ingest | ExternalIngest] = {
        topics.events_metric: Ingest(codec, drift=False),
        topics.events_drift: Ingest(codec, drift=True),
        topics.events_alerts: ExternalIngest(codec),
    }
    consumer = Consumer(
        consumer_config(
            bootstrap,
            f"alertstream-backtest-{uuid.uuid4().hex}",  # never joins: assign() + no commits
            **{"enable.partition.eof": False, "fetch.wait.max.ms": 50},
        )
    )
    lanes: dict[tuple[str, int], list[Recorded]] = {}
    history = History()
    seen: set[str] = set()  # silence ids met so far
    try:
        starts: list[TopicPartition] = []
        for topic in ingest:
            partitions = _partitions(consumer, topic)
            if partitions is None:
                raise SystemExit(f"topic {topic} does not exist")
            starts += [TopicPartition(topic, p, start_ms) for p in partitions]
        starts += [TopicPartition(topics.actions, p, start_ms) for p in _partitions(consumer, topics.actions) or []]
        found = consumer.offsets_for_times(starts, timeout=10)
        assigned = [tp for tp in found if tp.offset >= 0]
        assigned += _whole(consumer, topics.silences)
        open_partitions = {(tp.topic, tp.partition) for tp in assigned}
        if not assigned:
            return history
        consumer.assign(assigned)
        started = last = time.monotonic()
        deadline = last + timeout
        while open_partitions and time.monotonic() - last < idle_seconds and time.monotonic() < deadline:
            for msg in consumer.consume(5000, 0.2):
                if msg.error() is not None:
                    continue
                last = time.monotonic()
                topic, partition = msg.topic() or "", msg.partition() or 0
                key = (topic, partition)
                if key not in open_partitions:
                    continue
                at = msg.timestamp()[1]
                if at > end_ms:
                    open_partitions.discard(key)
                    consumer.pause([TopicPartition(topic, partition)])
                    continue
                if topic not in ingest:  # a silence (from before the window too) or a user action
                    if (noted := _noted(msg, at, topic == topics.silences, seen, tenant)) is not None:
                        history.lifecycle.append(noted)
                    continue
                if at < start_ms:
                    continue
                history.read += 1
                item = ingest[topic].parse(msg.key(), msg.value(), topic, partition, msg.offset() or 0, at)
                if isinstance(item, Invalid):
                    history.invalid += 1
                    continue
                if tenant is not None and item.tenant != tenant:
                    history.other_tenants += 1
                    continue
                lanes.setdefault(key, []).append(Recorded(at, partition, item))
        history.reading_seconds = last - started
    finally:
        consumer.close()
    merging = time.monotonic()
    history.events = list(_merge(lanes))
    history.lifecycle.sort(key=lambda n: n.at)  # stable: one silence's versions stay in offset order
    history.reading_seconds += time.monotonic() - merging
    return history


def _merge(lanes: dict[tuple[str, int], list[Recorded]]) -> Iterator[Recorded]:
    """All lanes by record time, each lane in its own (offset) order."""
    return heapq.merge(*lanes.values(), key=lambda r: r.at)


def _partitions(consumer: Consumer, topic: str) -> list[int] | None:
    """The partitions of ``topic``; None when it does not exist."""
    meta = consumer.list_topics(topic, timeout=10)
    if topic not in meta.topics or meta.topics[topic].error is not None:
        return None
    return list(meta.topics[topic].partitions)


def _whole(consumer: Consumer, topic: str) -> list[TopicPartition]:
    """Every non-empty partition of ``topic`` from its beginning (a missing topic: none)."""
    out = []
    for p in _partitions(consumer, topic) or []:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high > max(low, 0):
            out.append(TopicPartition(topic, p, OFFSET_BEGINNING))
    return out


def _noted(msg: Message, at: int, silence: bool, seen: set[str], tenant: str | None) -> Noted | None:
    """A silences or actions record as the lifecycle takes it; None for one it would ignore."""
    value = msg.value()
    if silence:
        if value is None:
            key = msg.key()
            return None if key is None else Noted(at, key.decode("utf-8", "replace"))
        try:
            s = Silence.from_json(value)
        except SilenceError:
            return None
        first = s.id not in seen
        seen.add(s.id)
        return Noted(min(at, s.starts_at) if first else at, s)
    if value is None:
        return None
    try:
        action = Action.from_json(value)
    except ActionError:
        return None
    return None if tenant is not None and action.tenant != tenant else Noted(at, action)
