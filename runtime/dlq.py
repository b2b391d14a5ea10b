"""Reading a channel's dead-letter topic and replaying it: `alertstream dlq list|replay CHANNEL` and
the API's `GET /api/v1/dlq/{channel}` / `POST /api/v1/dlq/{channel}/replay` (one implementation,
in the runtime layer so that both stages call it).

Reading assigns every partition from the beginning with no consumer group (nothing is committed,
the DLQ is never consumed away) and stops once nothing new arrived for ``idle_seconds`` (tansu's
high watermarks are not exact, so "read until idle" is the reliable end). Replay puts the selected
tasks back on retry tier 1, due now, attempt reset, marked ``replayed``; the delivery id is kept,
so the ledger makes a second replay of the same task a no-op for the receiver.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.schemas.codec import DELIVERY_TASK, Codec
from alertstream.schemas.errors import CodecError
from alertstream.schemas.task_headers import HEADER_ERROR, HEADER_REASON, retry_headers
from alertstream.schemas.topics import TopicNames


class DlqTopicMissing(LookupError):
    """The channel's DLQ topic does not exist (``alertstream topics create`` creates it)."""


@dataclass(frozen=True)
class DlqEntry:
    partition: int
    offset: int
    timestamp_ms: int
    reason: str
    headers: dict[str, str]
    task: dict[str, Any] | None  # None when the message is not a decodable DeliveryTask
    raw: bytes

    def summary(self) -> dict[str, Any]:
        t = self.task or {}
        alert = t.get("alert") or {}
        return {
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.timestamp_ms,
            "reason": self.reason,
            "delivery_id": t.get("delivery_id"),
            "receiver": t.get("receiver"),
            "attempt": t.get("attempt"),
            "severity": alert.get("severity"),
            "fingerprint": alert.get("fingerprint"),
            "alert_id": alert.get("alert_id"),
            "tenant": alert.get("tenant"),
            "error": t.get("last_error") or self.headers.get(HEADER_ERROR),
        }


def header_dict(raw: object) -> dict[str, str]:
    """Message headers (a list of pairs, as confluent-kafka returns them) as text."""
    out: dict[str, str] = {}
    if isinstance(raw, list):
        for k, v in raw:
            out[str(k)] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v or "")
    return out


def read_dlq(
    bootstrap: str, topics: TopicNames, channel: str, *, codec: Codec, idle_seconds: float = 1.5
) -> Iterator[DlqEntry]:
    topic = topics.dlq(channel)
    consumer = Consumer(consumer_config(bootstrap, f"alertstream-dlq-reader-{uuid.uuid4().hex}"))
    try:
        meta = consumer.list_topics(topic, timeout=10)
        if topic not in meta.topics or meta.topics[topic].error is not None:
            raise DlqTopicMissing(f"topic {topic} does not exist")
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions])
        last = time.monotonic()
        while time.monotonic() - last < idle_seconds:
            msgs = consumer.consume(500, 0.2)
            for m in msgs:
                if m.error() is not None:
                    continue
                last = time.monotonic()
                raw = m.value() or b""
                headers = header_dict(m.headers())
                try:
                    task: dict[str, Any] | None = codec.decode(raw, DELIVERY_TASK)
                except CodecError:
                    task = None
                yield DlqEntry(
                    m.partition() or 0,
                    m.offset() or 0,
                    m.timestamp()[1],
                    headers.get(HEADER_REASON, "unknown"),
                    headers,
                    task,
                    raw,
                )
    finally:
        consumer.close()


def select(
    entries: Iterator[DlqEntry],
    since_ms: int | None = None,
    until_ms: int | None = None,
    fingerprint: str | None = None,
    tenant: str | None = None,
    delivery_ids: Collection[str] | None = None,
) -> Iterator[DlqEntry]:
    """The entries dead-lettered in [since, until] (ms), of one fingerprint, of one tenant (a tenant
    sees only the tasks it can decode as its own: undecodable entries name no tenant), of the named
    deliveries (the console's "replay this delivery")."""
    for e in entries:
        if delivery_ids is not None and (e.task is None or e.task.get("delivery_id") not in delivery_ids):
            continue
        if since_ms is not None and e.timestamp_ms < since_ms:
            continue
        if until_ms is not None and e.timestamp_ms > until_ms:
            continue
        if fingerprint is not None and (e.task is None or e.task["alert"]["fingerprint"] != fingerprint):
            continue
        if tenant is not None and (e.task is None or e.task["alert"]["tenant"] != tenant):
            continue
        yield e


def replay(
    bootstrap: str,
    topics: TopicNames,
    channel: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    fingerprint: str | None = None,
    *,
    codec: Codec,
    idle_seconds: float = 1.5,
    delivery_ids: Collection[str] | None = None,
) -> tuple[int, int]:
    """Replay the selected DLQ tasks to retry tier 1. Returns (replayed, skipped undecodable)."""
    producer = Producer(producer_config(bootstrap))
    replayed = skipped = 0
    now = int(time.time() * 1000)
    entries = read_dlq(bootstrap, topics, channel, codec=codec, idle_seconds=idle_seconds)
    for e in select(entries, since_ms, until_ms, fingerprint, delivery_ids=delivery_ids):
        if e.task is None:
            skipped += 1
            continue
        task = dict(e.task)
        task["attempt"] = 0
        task["not_before"] = now
        producer.produce(
            topics.retry(channel, 1),
            key=task["alert"]["fingerprint"].encode(),
            value=codec.encode(DELIVERY_TASK, task),
            headers=retry_headers(0, now, None, replayed=True),
        )
        replayed += 1
    remaining = producer.flush(30)
    if remaining:
        raise RuntimeError(f"{remaining} replayed tasks were not acknowledged by the broker")
    return replayed, skipped
