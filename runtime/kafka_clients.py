"""Client settings shared by every Kafka producer and consumer we create.

The session/heartbeat values work around a known tansu bug (JoinGroup replies held for
session.timeout/2) and are also sane for real Kafka in a latency-sensitive pipeline.
"""

from __future__ import annotations

from typing import Any

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1500


def producer_config(bootstrap: str, *, max_message_bytes: int | None = None, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all producer: retries never duplicate or reorder within a partition.

    ``max_message_bytes`` is the config's ``topics.max_message_bytes`` (the same limit the codec and
    the topics have); unset keeps librdkafka's default (1,000,000 bytes).
    """
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 500000,
    }
    if max_message_bytes is not None:
        config["message.max.bytes"] = max_message_bytes
    config.update(overrides)
    return config


def consumer_config(bootstrap: str, group: str, **overrides: Any) -> dict[str, Any]:
    """At-least-once consumer: offsets are committed explicitly after the work is done."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "partition.assignment.strategy": "cooperative-sticky",
    }
    config.update(overrides)
    return config


def admin_config(bootstrap: str) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap}
