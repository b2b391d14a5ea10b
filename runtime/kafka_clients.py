"""Client settings shared by every Kafka producer, consumer and admin client we create.

The session/heartbeat values work around a known tansu bug (JoinGroup replies held for
session.timeout/2) and are also sane for real Kafka in a latency-sensitive pipeline.

**Fetch wait and linger** (``ALERTSTREAM_KAFKA_FETCH_WAIT_MS``, ``ALERTSTREAM_KAFKA_LINGER_MS``)
apply to every consumer (``fetch.wait.max.ms``; the worker's Faust consumer reads
:func:`fetch_wait_ms` too) and every producer (``linger.ms``). A real Kafka answers a fetch as soon
as data arrives, so a long wait costs no latency and makes an idle consumer nearly free: the
default is 500 ms (librdkafka's own). The local broker, tansu 0.6, holds an empty fetch for the
whole wait even when data arrives meanwhile (measured: p50 latency ≈ 0.2-0.4 x the wait), so the
local stack (``alertstream.local_stack``) sets a short wait for itself and its children — which is
also why most of its idle CPU is the broker answering empty fetches (docs/benchmarks.md).

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
import os
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


FETCH_WAIT_ENV = "ALERTSTREAM_KAFKA_FETCH_WAIT_MS"
LINGER_ENV = "ALERTSTREAM_KAFKA_LINGER_MS"
#: For a real Kafka (long-poll returns when data arrives): idle consumers cost nearly nothing.
DEFAULT_FETCH_WAIT_MS = 500
DEFAULT_LINGER_MS = 5


def _env_ms(name: str, default: int, upper: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of milliseconds, got {raw[:20]!r}") from None
    if not 0 <= value <= upper:
        raise ValueError(f"{name} must be between 0 and {upper} ms, got {value}")
    return value


def fetch_wait_ms() -> int:
    """How long the broker may hold a fetch that finds nothing (every consumer, Faust's included)."""
    return _env_ms(FETCH_WAIT_ENV, DEFAULT_FETCH_WAIT_MS, 60_000)


def linger_ms() -> int:
    """How long a producer gathers records into one request before sending it."""
    return _env_ms(LINGER_ENV, DEFAULT_LINGER_MS, 10_000)


def producer_config(bootstrap: str, *, max_message_bytes: int | None = None, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all producer: retries never duplicate or reorder within a partition.

    ``max_message_bytes`` is the config's ``topics.max_message_bytes`` (the same limit the codec and
    the topics have); unset keeps librdkafka's default (1,000,000 bytes).
    """
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms(),
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
        "fetch.wait.max.ms": fetch_wait_ms(),
    }
    config = _finish(config, overrides)
    if "stats_cb" in overrides:
        config["stats_cb"] = ConsumerLag(group).chain(overrides["stats_cb"])
    return config


def admin_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    return _finish({"bootstrap.servers": bootstrap}, overrides)
