"""Client settings shared by every Kafka producer, consumer and admin client we create.

The session/heartbeat values work around a known tansu bug (JoinGroup replies held for
session.timeout/2) and are also sane for real Kafka in a latency-sensitive pipeline.

**One connection per process.** The composition root calls :func:`use_connection` once with the
settings' :class:`~alertstream.runtime.kafka_connection.KafkaConnection` (TLS, SASL, any other
librdkafka property); every config built here carries it, so no client of the process can connect
any other way. The order, later wins: alertstream's shared defaults, then the connection (its
passthrough properties may replace a default such as ``session.timeout.ms``), then what the call
site sets for that one client (group ids, callbacks, its tuning).

Every client logs through Python logging (the ``alertstream.kafka`` logger, level from
``ALERTSTREAM_LOG_LEVEL``): librdkafka never writes its own ``%3|…`` lines to stderr. A consumer
given a ``stats_cb`` (a process with probes, :meth:`~alertstream.runtime.health.Health.kafka_callbacks`)
also exports its lag per partition (:mod:`alertstream.runtime.consumer_lag`).
"""

from __future__ import annotations

import logging
from typing import Any

from alertstream.runtime.consumer_lag import ConsumerLag
from alertstream.runtime.kafka_connection import KafkaConnection

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1500
#: Where librdkafka's log lines go (confluent-kafka's ``logger`` property).
KAFKA_LOGGER = logging.getLogger("alertstream.kafka")

_connection = KafkaConnection()


def use_connection(connection: KafkaConnection) -> None:
    """Set the process's Kafka connection (once, at start, from the settings)."""
    global _connection
    _connection = connection


def connection() -> KafkaConnection:
    """The process's Kafka connection (PLAINTEXT with nothing else until :func:`use_connection`)."""
    return _connection


def _finish(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    config.update(_connection.librdkafka())
    config.update(overrides)
    config.setdefault("logger", KAFKA_LOGGER)
    return config


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
    return _finish(config, overrides)


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
    config = _finish(config, overrides)
    if "stats_cb" in overrides:
        config["stats_cb"] = ConsumerLag(group).chain(overrides["stats_cb"])
    return config


def admin_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    return _finish({"bootstrap.servers": bootstrap}, overrides)
