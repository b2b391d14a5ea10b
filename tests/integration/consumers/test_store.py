"""`alertstream store` and `db migrate` against real PostgreSQL and the real broker."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from alertstream.consumers.db import migrate, migration_files
from alertstream.consumers.store import run_store
from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import DELIVERY_OUTCOME, Codec
from tests.integration.consumers.helpers import make_alert, publish_alerts, schema_dsn

pytestmark = pytest.mark.integration


def _count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _outcome(alert: dict[str, Any], outcome: str, attempt: int) -> dict[str, Any]:
    return {
        "delivery_id": f"msg_{alert['alert_id']}",
        "alert_id": alert["alert_id"],
        "fingerprint": alert["fingerprint"],
        "tenant": alert["tenant"],
        "channel": "webhook",
        "receiver": "ops",
        "outcome": outcome,
        "attempt": attempt,
        "status_code": 200 if outcome == "sent" else 500,
        "reason": None if outcome == "sent" else "http_5xx",
        "latency_seconds": 0.01,
        "at": int(time.time() * 1000),
    }


def test_migrate_is_idempotent(settings: Settings) -> None:
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())  # applies everything once
    assert migrate(dsn) == []
    assert _count(dsn, "SELECT count(*) FROM alertstream_migrations") == len(migration_files()) >= 4


def test_store_sinks_alerts_and_outcomes_idempotently(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    alerts = [make_alert([("ops", "webhook")]) for _ in range(20)]
    # every alert twice (a redelivery upstream) plus one undecodable record
    publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts + alerts)
    producer = Producer(producer_config(settings.kafka_bootstrap))
    producer.produce(settings.topics.alerts, key=b"x", value=b"not avro")
    codec = Codec()
    for a in alerts:
        for record in (_outcome(a, "retrying", 1), _outcome(a, "sent", 2), _outcome(a, "sent", 2)):
            producer.produce(
                settings.topics.deliveries, key=a["fingerprint"].encode(), value=codec.encode(DELIVERY_OUTCOME, record)
            )
    assert producer.flush(30) == 0

    def run_until(expected_alerts: int, expected_outcomes: int) -> int:
        """Run the store until the rows are there; returns the records it wrote (incl. duplicates)."""
        stop = threading.Event()
        written: list[int] = []
        worker = threading.Thread(
            target=lambda: written.append(
                run_store(settings.kafka_bootstrap or "", dsn, settings.topics, stop, codec=codec)
            )
        )
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if (
                    _count(dsn, "SELECT count(*) FROM alerts") >= expected_alerts
                    and _count(dsn, "SELECT count(*) FROM delivery_outcomes") >= expected_outcomes
                ):
                    break
                time.sleep(0.1)
            time.sleep(1.0)
        finally:
            stop.set()
            worker.join(30)
        return written[0]

    # 40 alerts (20 twice) and 60 outcomes (one duplicate each) read; the duplicates insert nothing
    assert run_until(20, 40) == 100
    assert _count(dsn, "SELECT count(*) FROM alerts") == 20
    assert _count(dsn, "SELECT count(*) FROM delivery_outcomes") == 40
    assert _count(dsn, "SELECT count(*) FROM delivery_outcomes WHERE outcome = 'sent' AND status_code = 200") == 20
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT details->>'threshold', labels->>'env', severity FROM alerts WHERE alert_id = %s",
            (alerts[0]["alert_id"],),
        ).fetchone()
    assert row == ("90", "prod", "critical")

    # A restart of the group reads nothing twice; new records arrive once.
    more = [make_alert([("ops", "webhook")]) for _ in range(5)]
    publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, more)
    assert run_until(25, 40) == 5, "the first run's offsets were committed: nothing is read twice"
    assert _count(dsn, "SELECT count(*) FROM alerts") == 25
    assert caplog.text.count("store: rejected undecodable record") == 1


def test_a_replayed_delivery_keeps_the_outcomes_of_both_runs(settings: Settings) -> None:
    """A DLQ replay starts a delivery again at attempt 1: its outcomes repeat (delivery id, attempt,
    outcome) of the first run and used to be dropped as duplicates; the record's time tells them apart."""
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    a = make_alert([("ops", "webhook")])
    now = int(time.time() * 1000)
    runs = [("retrying", 1, now), ("dead_lettered", 2, now + 10), ("retrying", 1, now + 20), ("sent", 2, now + 30)]
    codec = Codec()
    producer = Producer(producer_config(settings.kafka_bootstrap))
    for outcome, attempt, at in runs:
        record = {**_outcome(a, outcome, attempt), "at": at}
        producer.produce(settings.topics.deliveries, key=b"k", value=codec.encode(DELIVERY_OUTCOME, record))
    assert producer.flush(30) == 0
    stop = threading.Event()
    worker = threading.Thread(
        target=run_store, args=(settings.kafka_bootstrap, dsn, settings.topics, stop), kwargs={"codec": codec}
    )
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _count(dsn, "SELECT count(*) FROM delivery_outcomes") < 4:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(30)
    assert _count(dsn, "SELECT count(*) FROM delivery_outcomes") == 4
    assert _count(dsn, "SELECT count(*) FROM delivery_outcomes WHERE outcome = 'retrying' AND attempt = 1") == 2
