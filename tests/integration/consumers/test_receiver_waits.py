"""Waiting for a receiver is not a failed attempt.

An open breaker or a receiver with every slot busy makes its tasks wait (parked per receiver, other
receivers unaffected) instead of spending retry tiers: a receiver down for longer than all tiers
together still gets every alert exactly once, within seconds of its recovery, and ``attempt``
counts the requests actually made.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from alertstream.consumers.model import delivery_id
from alertstream.runtime.dlq import read_dlq
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from tests.integration.consumers.helpers import (
    Receiver,
    Running,
    config_with,
    deliver_metrics,
    make_alert,
    metric_deltas,
    publish_alerts,
    schema_dsn,
    service_for,
    wait_for,
)

pytestmark = pytest.mark.integration

OUTAGE_S = 25.0  # the four tiers add up to ~10 s: without waiting, the tasks would be dead-lettered
N = 200


def _ledger_attempts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT delivery_id, attempt FROM delivery_ledger").fetchall()}


async def test_a_receiver_down_longer_than_every_tier_gets_each_alert_once_soon_after_recovery(
    settings: Settings,
) -> None:
    outage_until = time.time() + 1e9
    server = Receiver(respond=lambda _p, _n: (503, {}) if time.time() < outage_until else (200, {}))
    await server.start()
    config = config_with(
        [{"name": "a", "channel": "webhook", "url": server.url("/a"), "allow_private": True}],
        retry_delays_seconds=[1.0, 2.0, 3.0, 4.0],
        breaker_failures=5,
        breaker_cooldown_seconds=1.0,
    )
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    alerts = [make_alert([("a", "webhook")]) for _ in range(N)]
    sentinel = make_alert([("a", "webhook")])
    before = deliver_metrics("webhook")

    def ok_ids() -> list[str]:
        return [h.headers["webhook-id"] for h in server.hits if h.status == 200]

    try:
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            outage_until = time.time() + OUTAGE_S
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts)
            assert await wait_for(lambda: len(set(ok_ids())) >= N, OUTAGE_S + 40), (
                f"{len(set(ok_ids()))} of {N} delivered; {service.stats}"
            )
            drained_after = max(h.at for h in server.hits if h.status == 200) - outage_until
            # a later alert through the same receiver: anything still pending would be before it
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [sentinel])
            sentinel_id = delivery_id(sentinel["alert_id"], "webhook", "a")
            assert await wait_for(lambda: sentinel_id in ok_ids(), 20)
            stats = service.stats
    finally:
        await server.stop()

    expected = {delivery_id(a["alert_id"], "webhook", "a") for a in alerts} | {sentinel_id}
    assert sorted(ok_ids()) == sorted(expected), "every alert delivered exactly once"
    assert drained_after < 6.0, f"backlog drained {drained_after:.1f} s after recovery"
    failed = [h for h in server.hits if h.status != 200]
    assert failed, "the receiver was down"
    requests: dict[str, int] = {}
    for h in server.hits:
        requests[h.headers["webhook-id"]] = requests.get(h.headers["webhook-id"], 0) + 1
    assert _ledger_attempts(dsn) == requests, "attempt == requests actually made"
    assert list(read_dlq(settings.kafka_bootstrap, settings.topics, "webhook", codec=Codec())) == []
    assert "circuit_open" not in stats.by_reason
    assert stats.dead_lettered == 0
    assert stats.retried == len(failed)
    assert metric_deltas(before, deliver_metrics("webhook")) == {
        "notifications_sent": N + 1,
        "notifications_retrying": len(failed),
        "retries": len(failed),
        "latency_count": N + 1,
    }


async def test_a_slow_receiver_gets_one_request_per_alert(settings: Settings) -> None:
    """Every slot of the receiver busy for longer than a task used to wait: no retries."""
    server = Receiver(delay=0.5)
    await server.start()
    config = config_with(
        [{"name": "slow", "channel": "webhook", "url": server.url("/slow"), "allow_private": True}],
        max_in_flight_per_receiver=2,
    )
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    alerts = [make_alert([("slow", "webhook")]) for _ in range(40)]  # 10 s of work for 2 slots
    sentinel = make_alert([("slow", "webhook")])
    sentinel_id = delivery_id(sentinel["alert_id"], "webhook", "slow")
    before = deliver_metrics("webhook")
    stats: Any = None
    try:
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts)
            assert await wait_for(lambda: len({h.headers["webhook-id"] for h in server.hits}) >= 40, 60)
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [sentinel])
            assert await wait_for(lambda: any(h.headers["webhook-id"] == sentinel_id for h in server.hits), 30)
            assert await wait_for(lambda: service.stats.sent >= 41, 10)
            stats = service.stats
    finally:
        await server.stop()
    ids = [h.headers["webhook-id"] for h in server.hits]
    assert sorted(ids) == sorted({delivery_id(a["alert_id"], "webhook", "slow") for a in alerts} | {sentinel_id})
    assert stats.retried == 0
    assert "receiver_busy" not in stats.by_reason
    assert set(_ledger_attempts(dsn).values()) == {1}
    assert metric_deltas(before, deliver_metrics("webhook")) == {"notifications_sent": 41, "latency_count": 41}


async def test_the_in_flight_limit_pauses_partitions_instead_of_blocking_the_loop(settings: Settings) -> None:
    """Two messages in flight per process, each send 0.8 s: the fetch loop pauses the partitions it
    cannot take yet (and keeps polling) instead of sitting in a wait; nothing is lost or doubled."""
    server = Receiver(delay=0.8)
    await server.start()
    config = config_with(
        [{"name": "r", "channel": "webhook", "url": server.url("/r"), "allow_private": True}], max_in_flight=2
    )
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    alerts = [make_alert([("r", "webhook")]) for _ in range(12)]
    service = service_for("webhook", config, settings, dsn)
    reasons: list[str] = []
    real_hold = service._hold

    async def hold(key: Any, offset: int, reason: str, delay_ms: int = 0) -> None:
        reasons.append(reason)
        await real_hold(key, offset, reason, delay_ms)

    service._hold = hold
    try:
        async with Running(service):
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts)
            assert await wait_for(lambda: service.stats.sent >= 12, 60), service.stats
            stats = service.stats
    finally:
        await server.stop()
    assert sorted(h.headers["webhook-id"] for h in server.hits) == sorted(
        delivery_id(a["alert_id"], "webhook", "r") for a in alerts
    )
    assert (stats.sent, stats.retried, stats.duplicates) == (12, 0, 0)
    assert "busy" in reasons, "partitions were paused while every slot was taken"
