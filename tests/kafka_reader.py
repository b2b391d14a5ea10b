"""Reading a topic back in tests: exactly the expected count, and a settle period to catch extras."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from alertstream.runtime.kafka_clients import consumer_config


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0, settle: float = 1.0) -> list[Record]:
    """All records of ``topic`` from the start: waits for ``expected`` of them, then ``settle`` more
    seconds so that an extra record shows up in the result (and fails an exact-count assertion)."""
    consumer = Consumer(consumer_config(bootstrap, f"test-reader-{uuid.uuid4().hex}"))
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
    consumer.assign(partitions)
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            if len(out) >= expected and settle_until is None:
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
            for msg in consumer.consume(5000, 0.2):
                if msg.error() is not None:
                    continue
                out.append(
                    Record(
                        topic=msg.topic() or "",
                        partition=msg.partition() or 0,
                        offset=msg.offset() or 0,
                        key=msg.key(),
                        value=msg.value() or b"",
                        headers={k: v or b"" for k, v in (msg.headers() or [])},
                    )
                )
    finally:
        consumer.close()
    return out
