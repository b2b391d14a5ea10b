"""The history the store keeps: replays change nothing, the audit log is append-only for the
application's role, and retention deletes exactly what is older than each table keeps."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from psycopg import errors, sql

from alertstream.consumers.db import migrate
from alertstream.consumers.retention import retention_pass
from alertstream.consumers.store import run_store
from alertstream.consumers.store_records import Source, StoreTopics, to_item
from alertstream.consumers.store_writer import write_batch
from alertstream.consumers.task_messages import dlq_headers, retry_headers
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, DELIVERY_TASK, Codec
from alertstream.schemas.history_config import HistorySection
from alertstream.schemas.topics import TopicNames
from tests.integration.consumers.helpers import make_alert, schema_dsn

pytestmark = pytest.mark.integration
CODEC = Codec()

#: every table's content, without the columns the database fills in at insert time
SNAPSHOT = {
    "alerts": "SELECT count(*), md5(string_agg(row(a.*)::text, '|' ORDER BY alert_id)) FROM alerts a",
    "delivery_outcomes": "SELECT count(*), md5(string_agg(row(delivery_id, attempt, outcome, alert_id, tenant,"
    " channel, receiver, status_code, reason, latency_seconds, at)::text, '|'"
    " ORDER BY delivery_id, at, attempt, outcome)) FROM delivery_outcomes",
    "notifications": "SELECT count(*), md5(string_agg(row(n.*)::text, '|' ORDER BY delivery_id)) FROM notifications n",
    "dlq_entries": "SELECT count(*), md5(string_agg(row(d.*)::text, '|' ORDER BY entry_key)) FROM dlq_entries d",
    "audit_log": "SELECT count(*), md5(string_agg(row(at, actor, action, reason, tenant, alert_id, fingerprint,"
    " delivery_id, details, source_key)::text, '|' ORDER BY source_key)) FROM audit_log",
}


def _one(dsn: str, query: str, *args: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def _snapshot(dsn: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with psycopg.connect(dsn) as conn:
        for table, query in SNAPSHOT.items():
            out[table] = conn.execute(query).fetchone()
        out["counters"] = conn.execute(
            "SELECT sum(attempts), sum(outcomes), count(*) FILTER (WHERE state = 'sent') FROM notifications"
        ).fetchone()
        out["audit_by_action"] = dict(conn.execute("SELECT action, count(*) FROM audit_log GROUP BY action").fetchall())
    return out


def _outcome(alert: dict[str, Any], outcome: str, attempt: int, at: int, reason: str | None = None) -> dict[str, Any]:
    return {
        "delivery_id": f"msg_{alert['alert_id']}",
        "alert_id": alert["alert_id"],
        "fingerprint": alert["fingerprint"],
        "tenant": alert["tenant"],
        "channel": "webhook",
        "receiver": "ops",
        "outcome": outcome,
        "attempt": attempt,
        "status_code": 200 if outcome == "sent" else 503,
        "reason": reason,
        "latency_seconds": 0.02,
        "at": at,
    }


def _task(alert: dict[str, Any], attempt: int, not_before: int = 0) -> dict[str, Any]:
    return {
        "delivery_id": f"msg_{alert['alert_id']}",
        "channel": "webhook",
        "receiver": "ops",
        "alert": alert,
        "attempt": attempt,
        "first_attempt_at": 0,
        "not_before": not_before,
        "last_reason": "http_5xx",
        "last_error": "503 Service Unavailable",
    }


Message = tuple[str, bytes, bytes, list[tuple[str, str | bytes | None]]]


def _stream(topics: TopicNames, alerts: int) -> tuple[list[Message], dict[str, int]]:
    """``alerts`` alerts; every 10th notified (one retry, then sent), every 100th dead-lettered
    after 2 attempts, then replayed and sent; one undecodable DLQ record. Returns the messages
    and the rows they must make."""
    base = int(time.time() * 1000) - 3_600_000
    msgs: list[Message] = []
    counts = {"outcomes": 0, "dlq": 0, "replays": 0}
    for i in range(alerts):
        a = make_alert(
            [("ops", "webhook")],
            tenant=f"tenant-{i % 7}",
            fingerprint=f"fp-{i % 5000}",
            alert_id=f"a-{i:06d}",
            severity=("critical", "warning", "info")[i % 3],
            last_seen=base + i,
            emitted_at=base + i + 5,
        )
        key = a["fingerprint"].encode()
        msgs.append((topics.alerts, key, CODEC.encode(ALERT, a), []))
        if i % 10 == 0:
            outcomes = [_outcome(a, "retrying", 1, base + i + 10, "http_5xx"), _outcome(a, "sent", 2, base + i + 20)]
            if i % 100 == 0:
                outcomes[1] = _outcome(a, "dead_lettered", 2, base + i + 20, "http_5xx")
                dlq = CODEC.encode(DELIVERY_TASK, _task(a, 2))
                headers = dlq_headers(2, "http_5xx", "503", "info", base + i + 20)
                msgs.append((topics.dlq("webhook"), key, dlq, headers))
                replay_at = base + i + 30
                task = CODEC.encode(DELIVERY_TASK, _task(a, 0, replay_at))
                msgs.append((topics.retry("webhook", 1), key, task, [*retry_headers(0, replay_at, None, True)]))
                # the replayed attempt 1 fails again (same attempt number as the first run's), then is sent
                outcomes += [
                    _outcome(a, "retrying", 1, base + i + 40, "http_5xx"),
                    _outcome(a, "sent", 2, base + i + 50),
                ]
                counts["dlq"] += 1
                counts["replays"] += 1
            for o in outcomes:
                msgs.append((topics.deliveries, key, CODEC.encode(DELIVERY_OUTCOME, o), []))
            counts["outcomes"] += len(outcomes)
    msgs.append((topics.dlq("webhook"), b"raw", b"\x00garbage", [("reason", b"undecodable")]))
    counts["dlq"] += 1
    return msgs, counts


Ends = dict[tuple[str, int], int]


def _produce(bootstrap: str, msgs: list[Message], ends: Ends) -> None:
    """Produce and note, per partition, the offset after the last message (from the delivery reports:
    exact, unlike tansu's ListOffsets)."""
    producer = Producer(producer_config(bootstrap))

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        key = (msg.topic(), msg.partition())
        ends[key] = max(ends.get(key, 0), msg.offset() + 1)

    for topic, key, value, headers in msgs:
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def _drained(bootstrap: str, group: str, ends: Ends) -> bool:
    """Whether ``group`` has committed every partition up to ``ends`` (it read everything produced)."""
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        committed = consumer.committed([TopicPartition(t, p) for t, p in ends], timeout=10)
    finally:
        consumer.close()
    return all(tp.offset >= ends[(tp.topic, tp.partition)] for tp in committed)


def _run_until(settings: Settings, dsn: str, done: Callable[[], bool], group: str, within: float = 240) -> None:
    stop = threading.Event()
    errors_seen: list[BaseException] = []

    def target() -> None:
        try:
            run_store(settings.kafka_bootstrap or "", dsn, settings.topics, stop, codec=CODEC, group=group)
        except BaseException as exc:
            errors_seen.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not done() and thread.is_alive():
            time.sleep(0.5)
        assert not errors_seen, errors_seen
        assert done(), "the store did not reach the expected rows in time"
    finally:
        stop.set()
        thread.join(60)


def test_50000_alerts_replayed_twice_give_the_same_rows_and_counters_as_once(settings: Settings) -> None:
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    bootstrap = settings.kafka_bootstrap
    dsn = schema_dsn(settings.database_url.get_secret_value())
    msgs, counts = _stream(settings.topics, 50_000)
    ends: Ends = {}
    _produce(bootstrap, msgs, ends)
    once_group, replay_group = f"{settings.topic_prefix}store-once", f"{settings.topic_prefix}store-replay"
    _run_until(settings, dsn, lambda: _drained(bootstrap, once_group, ends), once_group)
    once = _snapshot(dsn)

    assert once["alerts"][0] == 50_000
    assert once["delivery_outcomes"][0] == counts["outcomes"] == 4_500 * 2 + 500 * 4
    assert once["dlq_entries"][0] == counts["dlq"] == 501
    assert once["notifications"][0] == 5_000
    # attempts: 2 per notified alert, 4 for the 500 dead-lettered and replayed; all sent in the end
    assert once["counters"] == (4_500 * 2 + 500 * 4, 4_500 * 2 + 500 * 4, 5_000)
    assert once["audit_by_action"] == {
        "fired": 50_000,
        "retrying": 5_000 + 500,
        "notified": 5_000,
        "dead_lettered": 500,
        "replayed": 500,
    }

    # replay 1: every record arrives a second time (an upstream replay)
    _produce(bootstrap, msgs, ends)
    _run_until(settings, dsn, lambda: _drained(bootstrap, once_group, ends), once_group)
    assert _snapshot(dsn) == once
    # replay 2: a new consumer group reads both copies from the beginning (an offset reset)
    _run_until(settings, dsn, lambda: _drained(bootstrap, replay_group, ends), replay_group)
    assert _snapshot(dsn) == once


# -- the application's role -------------------------------------------------------------------


@pytest.fixture
def app_dsn(settings: Settings) -> Iterator[tuple[str, str]]:
    """(owner DSN, DSN of a fresh login role that is granted alertstream_app), same schema."""
    assert settings.database_url is not None
    owner = schema_dsn(settings.database_url.get_secret_value())
    role = f"t_app_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT alertstream_app TO {}").format(sql.Identifier(role)))
    parts = urlsplit(owner)
    host = parts.netloc.rsplit("@", 1)[-1]
    yield owner, urlunsplit((parts.scheme, f"{role}@{host}", parts.path, parts.query, parts.fragment))
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _items(alerts: list[dict[str, Any]], topics: TopicNames) -> list[Any]:
    store_topics = StoreTopics.of(topics)
    out = []
    for i, a in enumerate(alerts):
        item = to_item(Source(topics.alerts, 0, i, b"k", CODEC.encode(ALERT, a), 0), store_topics, CODEC)
        out.append(item)
    return out


def test_the_application_role_appends_to_the_audit_log_but_cannot_update_or_delete_it(
    app_dsn: tuple[str, str],
) -> None:
    owner, app = app_dsn
    topics = TopicNames("x.")
    assert migrate(app) == [], "migrate as the application role is a read-only no-op when up to date"
    with psycopg.connect(app) as conn:
        result = write_batch(conn, _items([make_alert([("ops", "webhook")]) for _ in range(3)], topics))
        assert (len(result.stored), result.inserted["audit_log"]) == (3, 3)
        assert conn.execute("SELECT current_user").fetchone() != ("postgres",)
    for statement in (
        "UPDATE audit_log SET reason = 'tampered'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "SELECT alertstream_expire_audit(now(), 100)",  # a cutoff younger than a day is refused
    ):
        with psycopg.connect(app, autocommit=True) as conn, pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)
    assert _one(owner, "SELECT count(*) FROM audit_log WHERE reason IS DISTINCT FROM 'tampered'") == 3
    with psycopg.connect(owner, autocommit=True) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("UPDATE audit_log SET reason = 'tampered'")  # the trigger: not even the owner
    with psycopg.connect(owner, autocommit=True) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("DELETE FROM audit_log")  # the owner neither, for rows younger than a day


def test_retention_deletes_what_each_table_no_longer_keeps_in_batches(app_dsn: tuple[str, str]) -> None:
    owner, app = app_dsn
    topics = TopicNames("x.")
    now = datetime.now(UTC)
    day = 86_400_000
    now_ms = int(now.timestamp() * 1000)
    # 250 alerts 100 days old (alerts keep 90), 20 from 10 days ago
    old = [make_alert([], last_seen=now_ms - 100 * day, first_seen=now_ms - 100 * day) for _ in range(250)]
    recent = [make_alert([], last_seen=now_ms - 10 * day, first_seen=now_ms - 10 * day) for _ in range(20)]
    with psycopg.connect(owner) as conn:
        write_batch(conn, _items(old + recent, topics))
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (at, recorded_at, actor, action) SELECT now(), now() - interval '500 days',"
            " 'test', 'fired' FROM generate_series(1, 130)"
        )
        conn.execute(
            "INSERT INTO delivery_ledger (delivery_id, channel, receiver, alert_id, fingerprint, tenant, attempt,"
            " sent_at) SELECT 'd' || g, 'webhook', 'ops', 'a', 'f', 't', 1, now() - interval '401 days'"
            " FROM generate_series(1, 5) g"
        )
    history = HistorySection.model_validate({"delete_batch_rows": 100})
    with psycopg.connect(app, autocommit=True) as conn:  # retention runs as the application's role
        deleted = retention_pass(conn, history, now)
    assert deleted["alerts"] == 250
    assert deleted["audit_log"] == 130  # the old audit rows, through alertstream_expire_audit
    assert deleted["delivery_ledger"] == 5
    assert _one(owner, "SELECT count(*) FROM alerts") == 20
    assert _one(owner, "SELECT min(last_seen) FROM alerts") > now - timedelta(days=11)
    # the 270 audit rows the store derived (recorded now) are kept
    assert _one(owner, "SELECT count(*) FROM audit_log") == 270
    assert json.loads(json.dumps(dict(deleted)))  # plain counts, for the log line
    with psycopg.connect(app, autocommit=True) as conn:
        again = retention_pass(conn, history, now)
    assert sum(again.values()) == 0
