"""`alertstream store`: the history in PostgreSQL — alerts, delivery outcomes, notifications, DLQ
entries, the audit log — written idempotently, with nothing able to stall it.

One consumer group (``alertstream-store``) on ``alerts``, ``alerts.deliveries``, every
``alerts.<channel>.dlq`` and every ``alerts.<channel>.retry.1`` (for replays only). Each batch
is one transaction (:mod:`alertstream.consumers.store_writer`); the offsets are committed only
after it, and after the records that could not be written are acknowledged on
``alerts.store.rejected`` — undecodable ones, and those PostgreSQL refused, with the original key
and bytes and headers ``error.reason`` (``undecodable`` | ``bad_record`` | ``db_refused``),
``error.detail``, ``source.topic``, ``source.partition``, ``source.offset``. A crash re-reads the
batch and every insert is a no-op. :func:`replay_rejected` writes the rejected records again once
their cause is fixed. Retention (:mod:`alertstream.consumers.retention`) runs on its own thread.
A schema registry outage is not bad input: the batch waits (uncommitted) until the registry
answers (:class:`alertstream.runtime.codecs.RegistryWait`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from prometheus_client import Counter as PromCounter

from alertstream.consumers.retention import Retention
from alertstream.consumers.store_records import Source, StoreItem, StoreTopics, Unwritable, to_item
from alertstream.consumers.store_writer import write_batch
from alertstream.runtime.codecs import RegistryWait
from alertstream.runtime.health import Health
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.schemas.codec import Codec
from alertstream.schemas.history_config import HistorySection
from alertstream.schemas.topics import TopicNames

log = logging.getLogger(__name__)

STORED = PromCounter("alertstream_store_records", "Records written to PostgreSQL by the store.", ["kind"])
STORE_REJECTED = PromCounter(
    "alertstream_store_rejected", "Records set aside on alerts.store.rejected, by reason.", ["reason"]
)
_KIND = {"alerts": "alert", "delivery_outcomes": "outcome", "dlq_entries": "dlq", "audit_log": "replay"}
#: The bounded label sets of the store's counters, created at zero at start (runtime.metrics).
STORED_KINDS = tuple(_KIND.values())
REJECT_REASONS = ("undecodable", "bad_record", "db_refused")


def store_group(prefix: str = "") -> str:
    return f"{prefix}alertstream-store"


def _headers(raw: object) -> tuple[tuple[str, bytes], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple((str(k), v if isinstance(v, bytes) else str(v or "").encode()) for k, v in raw)


def _source(m: Message) -> Source:
    return Source(
        topic=m.topic() or "",
        partition=m.partition() or 0,
        offset=m.offset() or 0,
        key=m.key(),
        value=m.value() or b"",
        timestamp_ms=m.timestamp()[1],
        headers=_headers(m.headers()),
    )


_OWN_HEADERS = ("error.reason", "error.detail", "source.topic", "source.partition", "source.offset")


def rejected_headers(u: Unwritable) -> list[tuple[str, str | bytes | None]]:
    """Headers of a set-aside record: the original record's (a DLQ entry's reason, a replay's
    marker) and the reason, with the same names as ``events.invalid``."""
    return [
        *((k, v) for k, v in u.source.headers if k not in _OWN_HEADERS),
        ("error.reason", u.reason.encode()),
        ("error.detail", u.detail.replace("\x00", "").encode()),
        ("source.topic", u.source.topic.encode()),
        ("source.partition", str(u.source.partition).encode()),
        ("source.offset", str(u.source.offset).encode()),
    ]


def _items(msgs: list[Message], topics: StoreTopics, codec: Codec) -> tuple[list[StoreItem], list[Unwritable]]:
    items: list[StoreItem] = []
    unwritable: list[Unwritable] = []
    for m in msgs:
        err = m.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("store: consume error %s", err)
            continue
        item = to_item(_source(m), topics, codec)
        if isinstance(item, Unwritable):
            unwritable.append(item)
        elif item is not None:
            items.append(item)
    return items, unwritable


def _set_aside(producer: Producer, topic: str, rejected: list[Unwritable]) -> None:
    for u in rejected:
        log.warning(
            "store: rejected %s record %s[%d]@%d: %s",
            u.reason,
            u.source.topic,
            u.source.partition,
            u.source.offset,
            u.detail,
        )
        producer.produce(topic, key=u.source.key, value=u.source.value, headers=rejected_headers(u))
    if rejected:
        remaining = producer.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} rejected records were not acknowledged on {topic}")
        for u in rejected:
            STORE_REJECTED.labels(reason=u.reason).inc()


def run_store(
    bootstrap: str,
    dsn: str,
    topics: TopicNames,
    stop: threading.Event,
    *,
    codec: Codec,
    batch: int = 1000,
    history: HistorySection | None = None,
    group: str | None = None,
    health: Health | None = None,
) -> int:
    """Run until ``stop`` is set; returns the number of records stored (inserted or already there).

    ``history`` starts the retention thread (None: no retention, e.g. in tests of the writer);
    ``group`` replaces the consumer group (a fresh group re-reads everything: a full replay)."""
    store_topics = StoreTopics.of(topics)
    health = health or Health()  # /healthz, /readyz (runtime.health)
    health.set_check("database", False, "not connected yet")
    consumer = Consumer(consumer_config(bootstrap, group or store_group(topics.prefix), **health.kafka_callbacks()))
    producer = Producer(producer_config(bootstrap))
    consumer.subscribe(
        store_topics.all(),
        on_assign=lambda _c, ps: health.partitions_changed(assigned=[(p.topic, p.partition) for p in ps]),
        on_revoke=lambda _c, ps: health.partitions_changed(revoked=[(p.topic, p.partition) for p in ps]),
    )
    registry = RegistryWait(codec, health)  # registry mode: an outage waits, never skips
    retention = Retention(dsn, history) if history is not None else None
    if retention is not None:
        retention.start()
    written = 0
    try:
        with psycopg.connect(dsn) as conn:
            health.set_check("database", True)
            while not stop.is_set():
                health.beat()
                msgs = consumer.consume(batch, 0.2)
                if not msgs:
                    continue
                if not registry.ready_blocking([m.value() for m in msgs], stop):
                    break  # stopping while the registry is down: this batch stays uncommitted
                items, unwritable = _items(msgs, store_topics, codec)
                result = write_batch(conn, items)
                _set_aside(producer, topics.store_rejected, unwritable + result.rejected)
                consumer.commit(asynchronous=False)
                for kind, n in Counter(_KIND[i.table] for i in result.stored).items():
                    STORED.labels(kind=kind).inc(n)
                written += len(result.stored)
    finally:
        if retention is not None:
            retention.stop()
        consumer.close()
        producer.flush(10)
    return written


@dataclass(frozen=True)
class ReplayResult:
    written: int  # rows inserted now
    already_present: int  # stored before (a second replay)
    still_refused: int  # PostgreSQL still refuses them: they stay on the rejected topic
    unreadable: int  # still undecodable, or from a topic the store does not read


def replay_rejected(
    bootstrap: str, dsn: str, topics: TopicNames, *, codec: Codec, idle_seconds: float = 1.5
) -> ReplayResult:
    """Write every record of ``alerts.store.rejected`` that can be written now.

    Reads the whole topic with no consumer group (nothing is consumed away: a record still refused
    stays there for the next replay) until idle for ``idle_seconds``. Idempotent like the store:
    replaying twice stores each record once."""
    store_topics = StoreTopics.of(topics)
    known = set(store_topics.all())
    topic = topics.store_rejected
    consumer = Consumer(consumer_config(bootstrap, f"alertstream-store-replay-{uuid.uuid4().hex}"))
    items: list[StoreItem] = []
    unreadable = 0
    try:
        meta = consumer.list_topics(topic, timeout=10)
        if topic not in meta.topics or meta.topics[topic].error is not None:
            raise SystemExit(f"topic {topic} does not exist")
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions])
        last = time.monotonic()
        while time.monotonic() - last < idle_seconds:
            for m in consumer.consume(500, 0.2):
                if m.error() is not None:
                    continue
                last = time.monotonic()
                item = _original(_source(m), store_topics, known, codec)
                if item is None:
                    unreadable += 1
                else:
                    items.append(item)
    finally:
        consumer.close()
    written = present = refused = 0
    with psycopg.connect(dsn) as conn:
        for start in range(0, len(items), 1000):
            result = write_batch(conn, items[start : start + 1000])
            new = sum(n for table, n in result.inserted.items() if table != "audit_log")
            written += new
            present += len(result.stored) - new
            refused += len(result.rejected)
    return ReplayResult(written, present, refused, unreadable)


def _original(rejected: Source, topics: StoreTopics, known: set[str], codec: Codec) -> StoreItem | None:
    """The record as the store first read it, from a rejected record and its headers."""
    origin = rejected.header("source.topic")
    if origin not in known:
        return None
    partition, offset = rejected.header("source.partition") or "0", rejected.header("source.offset") or "0"
    source = Source(
        origin or "",
        int(partition) if partition.isdigit() else 0,
        int(offset) if offset.isdigit() else 0,
        rejected.key,
        rejected.value,
        rejected.timestamp_ms,
        tuple((k, v) for k, v in rejected.headers if k not in _OWN_HEADERS),
    )
    item = to_item(source, topics, codec)
    return item if isinstance(item, StoreItem) else None
