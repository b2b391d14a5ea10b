"""No record the store cannot write stalls its batch: it is set aside on `alerts.store.rejected`.

Real PostgreSQL refuses a text value with a NUL character; one such record in a batch used to fail
the whole ``executemany`` transaction, stop the store, and (re-read on every restart) stop it again
forever. Now the rest of the batch is committed and the bad record goes to the rejected topic with
a reason, counted, and can be replayed once whatever refused it is fixed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from alertstream.consumers.store import run_store
from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, Codec
from tests.integration.consumers.helpers import make_alert, schema_dsn
from tests.kafka_reader import read_topic

pytestmark = pytest.mark.integration
CODEC = Codec()


def _count(dsn: str, sql: str, *args: Any) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
    assert row is not None
    return int(row[0])


def _rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("alertstream_store_rejected_total", {"reason": reason}) or 0.0


class StoreThread:
    """`run_store` on a thread until :meth:`stop`; re-raises whatever ended it."""

    def __init__(self, settings: Settings, dsn: str) -> None:
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.written = 0

        def target() -> None:
            try:
                self.written = run_store(
                    settings.kafka_bootstrap or "", dsn, settings.topics, self.stop_event, codec=CODEC
                )
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)


@pytest.fixture
def dsn(settings: Settings) -> str:
    assert settings.database_url is not None
    return schema_dsn(settings.database_url.get_secret_value())


def _wait(pred: Any, within: float, store: StoreThread) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pred():
            return True
        if not store.thread.is_alive():
            return bool(pred())
        time.sleep(0.1)
    return bool(pred())


def test_a_record_postgresql_refuses_is_set_aside_and_the_rest_of_its_batch_is_written(
    settings: Settings, dsn: str
) -> None:
    assert settings.kafka_bootstrap is not None
    good = [make_alert([("ops", "webhook")], fingerprint="fp-same") for _ in range(10)]
    bad = make_alert([("ops", "webhook")], fingerprint="fp-same", summary="CPU \x00 above 90%")
    bad_outcome = {
        "delivery_id": "msg_bad",
        "alert_id": good[0]["alert_id"],
        "fingerprint": "fp-same",
        "tenant": "acme",
        "channel": "webhook",
        "receiver": "ops\x00",
        "outcome": "sent",
        "attempt": 1,
        "status_code": 200,
        "reason": None,
        "latency_seconds": 0.01,
        "at": int(time.time() * 1000),
    }
    producer = Producer(producer_config(settings.kafka_bootstrap))
    # one partition (same key), the bad record in the middle: good ones before and after it
    for a in [*good[:5], bad, *good[5:]]:
        producer.produce(settings.topics.alerts, key=b"fp-same", value=CODEC.encode(ALERT, a))
    producer.produce(settings.topics.alerts, key=b"fp-same", value=b"not avro at all")
    producer.produce(settings.topics.deliveries, key=b"fp-same", value=CODEC.encode(DELIVERY_OUTCOME, bad_outcome))
    assert producer.flush(30) == 0
    refused_before, undecodable_before = _rejected("db_refused"), _rejected("undecodable")

    store = StoreThread(settings, dsn)
    try:
        done = _wait(lambda: _count(dsn, "SELECT count(*) FROM alerts") >= 10, 60, store)
        assert store.error is None, f"the store stopped on one bad record: {store.error!r}"
        written = _count(dsn, "SELECT count(*) FROM alerts")
        assert done, f"{written} of the 10 good alerts were written"
        rejected = read_topic(settings.kafka_bootstrap, settings.topics.store_rejected, 3, timeout=30)
    finally:
        store.stop()
    assert store.error is None
    assert _count(dsn, "SELECT count(*) FROM alerts") == 10
    assert _count(dsn, "SELECT count(*) FROM alerts WHERE alert_id = %s", bad["alert_id"]) == 0
    assert _count(dsn, "SELECT count(*) FROM delivery_outcomes") == 0
    by_reason = sorted((r.headers["error.reason"], r.headers["source.topic"].decode()) for r in rejected)
    assert by_reason == [
        (b"db_refused", settings.topics.alerts),
        (b"db_refused", settings.topics.deliveries),
        (b"undecodable", settings.topics.alerts),
    ]
    alert_rejected = next(
        r
        for r in rejected
        if r.headers["source.topic"] == settings.topics.alerts.encode() and r.headers["error.reason"] == b"db_refused"
    )
    assert CODEC.decode(alert_rejected.value, ALERT)["alert_id"] == bad["alert_id"], "the original bytes are kept"
    assert alert_rejected.key == b"fp-same"
    assert b"\x00" not in alert_rejected.headers["error.detail"]
    assert _rejected("db_refused") - refused_before == 2
    assert _rejected("undecodable") - undecodable_before == 1


def test_replaying_the_rejected_topic_writes_what_is_now_accepted_once(settings: Settings, dsn: str) -> None:
    from alertstream.consumers.store import replay_rejected

    assert settings.kafka_bootstrap is not None
    with psycopg.connect(dsn, autocommit=True) as conn:  # a constraint that refuses one tenant, for now
        conn.execute("ALTER TABLE alerts ADD CONSTRAINT test_refuse CHECK (tenant <> 'refused')")
    refused = [make_alert([("ops", "webhook")], tenant="refused") for _ in range(3)]
    accepted = [make_alert([("ops", "webhook")]) for _ in range(4)]
    producer = Producer(producer_config(settings.kafka_bootstrap))
    for a in refused + accepted:
        producer.produce(settings.topics.alerts, key=a["fingerprint"].encode(), value=CODEC.encode(ALERT, a))
    assert producer.flush(30) == 0
    store = StoreThread(settings, dsn)
    try:
        assert _wait(lambda: _count(dsn, "SELECT count(*) FROM alerts") >= 4, 60, store)
        read_topic(settings.kafka_bootstrap, settings.topics.store_rejected, 3, timeout=30, settle=0.5)
    finally:
        store.stop()
    assert store.error is None
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE alerts DROP CONSTRAINT test_refuse")
    first = replay_rejected(settings.kafka_bootstrap, dsn, settings.topics, codec=CODEC, idle_seconds=1.0)
    second = replay_rejected(settings.kafka_bootstrap, dsn, settings.topics, codec=CODEC, idle_seconds=1.0)
    assert (first.written, first.still_refused) == (3, 0)
    assert (second.written, second.still_refused) == (0, 0), "already there: a second replay adds nothing"
    assert second.already_present == 3
    assert _count(dsn, "SELECT count(*) FROM alerts WHERE tenant = 'refused'") == 3
    assert _count(dsn, "SELECT count(*) FROM alerts") == 7
