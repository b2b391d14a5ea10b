"""`alertstream store`: sinks `alerts` and the delivery outcomes into PostgreSQL, idempotently.

One consumer group (``alertstream-store``) on ``alerts`` and ``alerts.deliveries``; each batch is
written in one transaction with ``ON CONFLICT DO NOTHING`` (alerts by alert_id, outcomes by
delivery id + attempt + outcome) and the offsets are committed only after the transaction, so a
crash re-reads the batch and the re-insert is a no-op. Undecodable records are logged, counted
and skipped: bad input never stops a partition. A schema registry outage is not bad input: the
batch waits (uncommitted) until the registry answers (:class:`alertstream.runtime.codecs.RegistryWait`).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, Message
from prometheus_client import Counter

from alertstream.runtime.codecs import RegistryWait
from alertstream.runtime.health import Health
from alertstream.runtime.kafka_clients import consumer_config
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, Codec
from alertstream.schemas.errors import CodecError
from alertstream.schemas.topics import TopicNames

log = logging.getLogger(__name__)

STORED = Counter("alertstream_store_records", "Records written to PostgreSQL by the store.", ["kind"])
STORE_SKIPPED = Counter("alertstream_store_skipped", "Undecodable records skipped by the store.", ["reason"])

_ALERT_SQL = (
    "INSERT INTO alerts (alert_id, tenant, rule_id, rule_version, status, severity, fingerprint, entity, summary,"
    " details, labels, value, threshold, occurrence_count, suppressed_count, first_seen, last_seen, emitted_at,"
    " event_ids, routes, rate_limited) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s,"
    " %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s) ON CONFLICT (alert_id) DO NOTHING"
)
_OUTCOME_SQL = (
    "INSERT INTO delivery_outcomes (delivery_id, attempt, outcome, alert_id, fingerprint, tenant, channel,"
    " receiver, status_code, reason, latency_seconds, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (delivery_id, attempt, outcome) DO NOTHING"
)


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _json(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        value = {"raw": text[:8192]}
    return json.dumps(value).replace("\\u0000", "")


def alert_row(a: dict[str, Any]) -> tuple[Any, ...]:
    return (
        a["alert_id"],
        a["tenant"],
        a["rule_id"],
        a["rule_version"],
        a["status"],
        a["severity"],
        a["fingerprint"],
        a["entity"],
        a["summary"],
        _json(a["details"]),
        json.dumps(a["labels"]),
        a["value"],
        a["threshold"],
        a["occurrence_count"],
        a["suppressed_count"],
        _ts(a["first_seen"]),
        _ts(a["last_seen"]),
        _ts(a["emitted_at"]) if a["emitted_at"] else None,
        json.dumps(a["event_ids"]),
        json.dumps(a["routes"]),
        a["rate_limited"],
    )


def outcome_row(o: dict[str, Any]) -> tuple[Any, ...]:
    return (
        o["delivery_id"],
        o["attempt"],
        o["outcome"],
        o["alert_id"],
        o["fingerprint"],
        o["tenant"],
        o["channel"],
        o["receiver"],
        o["status_code"],
        o["reason"],
        o["latency_seconds"],
        _ts(o["at"]),
    )


def store_group(prefix: str = "") -> str:
    return f"{prefix}alertstream-store"


def run_store(
    bootstrap: str,
    dsn: str,
    topics: TopicNames,
    stop: threading.Event,
    *,
    codec: Codec,
    batch: int = 1000,
    health: Health | None = None,
) -> int:
    """Run until ``stop`` is set; returns the number of records written (inserted or already there)."""
    health = health or Health()  # /healthz, /readyz (runtime.health)
    health.set_check("database", False, "not connected yet")
    consumer = Consumer(consumer_config(bootstrap, store_group(topics.prefix), **health.kafka_callbacks()))
    consumer.subscribe(
        [topics.alerts, topics.deliveries],
        on_assign=lambda _c, ps: health.partitions_changed(assigned=[(p.topic, p.partition) for p in ps]),
        on_revoke=lambda _c, ps: health.partitions_changed(revoked=[(p.topic, p.partition) for p in ps]),
    )
    registry = RegistryWait(codec, health)  # registry mode: an outage waits, never skips
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
                alerts, outcomes = _decode(codec, msgs, topics)
                with conn.transaction(), conn.cursor() as cur:
                    if alerts:
                        cur.executemany(_ALERT_SQL, alerts)
                    if outcomes:
                        cur.executemany(_OUTCOME_SQL, outcomes)
                consumer.commit(asynchronous=False)
                STORED.labels(kind="alert").inc(len(alerts))
                STORED.labels(kind="outcome").inc(len(outcomes))
                written += len(alerts) + len(outcomes)
    finally:
        consumer.close()
    return written


def _decode(codec: Codec, msgs: list[Message], topics: TopicNames) -> tuple[list[tuple[Any, ...]], ...]:
    alerts: list[tuple[Any, ...]] = []
    outcomes: list[tuple[Any, ...]] = []
    for m in msgs:
        err = m.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("store: consume error %s", err)
            continue
        try:
            if m.topic() == topics.alerts:
                alerts.append(alert_row(codec.decode(m.value() or b"", ALERT)))
            else:
                outcomes.append(outcome_row(codec.decode(m.value() or b"", DELIVERY_OUTCOME)))
        except CodecError as exc:
            STORE_SKIPPED.labels(reason=exc.reason).inc()
            log.warning(
                "store: skipped undecodable record %s[%d]@%d: %s", m.topic(), m.partition(), m.offset(), exc.reason
            )
    return alerts, outcomes
