"""Webhook deliveries end to end: real broker, real PostgreSQL, real local HTTP receivers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from alertstream.consumers.model import delivery_id
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
    verify_standard_webhook,
    wait_for,
)

pytestmark = pytest.mark.integration

# Test-only signing secrets (the first is the Standard Webhooks spec's published example).
SECRET_OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_NEW = "whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCBrZXkh"
OUTAGE_S = 60.0


async def test_outage_then_recovery_delivers_each_exactly_once_and_signed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Receiver A answers 500 for 60 s, then 200: every alert reaches A exactly once after
    recovery; receiver B is unaffected meanwhile; every attempt is signed with both rotation
    secrets, same webhook-id, fresh timestamp; the process is near idle while the tasks wait in
    the retry tiers."""
    monkeypatch.setenv("T_SECRET_OLD", SECRET_OLD)
    monkeypatch.setenv("T_SECRET_NEW", SECRET_NEW)
    outage_until = time.time() + 1e9
    server = Receiver(respond=lambda p, _n: (500, {}) if p == "/a" and time.time() < outage_until else (200, {}))
    await server.start()
    common: dict[str, Any] = {
        "channel": "webhook",
        "allow_private": True,
        "secret_env": ["T_SECRET_OLD", "T_SECRET_NEW"],
    }
    config = config_with(
        [{"name": "a", "url": server.url("/a"), **common}, {"name": "b", "url": server.url("/b"), **common}],
        retry_delays_seconds=[5.0, 10.0, 20.0, 45.0],  # 80 s in all, >= 64 s with jitter: outlasts the outage
        breaker_failures=5,
        breaker_cooldown_seconds=0.5,
    )
    assert settings.kafka_bootstrap
    assert settings.database_url
    dsn = schema_dsn(settings.database_url.get_secret_value())
    alerts = [make_alert([("a", "webhook"), ("b", "webhook")]) for _ in range(30)]
    sentinel = make_alert([("a", "webhook"), ("b", "webhook")])
    before = deliver_metrics("webhook")
    try:
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            outage_until = time.time() + OUTAGE_S
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts)
            assert await wait_for(lambda: len(server.on("/b")) >= 30, 20)
            assert time.time() < outage_until, "B must be served while A is still down"
            # While A is down the tasks wait in paused retry partitions: no hot loop.
            cpu0, wall0 = time.process_time(), time.monotonic()
            await wait_for(lambda: time.time() >= outage_until, OUTAGE_S + 5)
            cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
            assert await wait_for(lambda: len({h.headers["webhook-id"] for h in _ok(server, "/a")}) >= 30, 60)
            # a later alert to both: once it is through, nothing published before it is pending
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [sentinel])
            assert await wait_for(lambda: len(_ok(server, "/a")) >= 31 and len(server.on("/b")) >= 31, 30)
            assert await wait_for(lambda: service.stats.sent >= 62, 10)
            stats = service.stats
    finally:
        await server.stop()

    assert cpu < 0.25, f"consumer busy while waiting: {cpu:.0%} of a core"
    b_ids = [h.headers["webhook-id"] for h in server.on("/b")]
    assert sorted(b_ids) == sorted({delivery_id(a["alert_id"], "webhook", "b") for a in [*alerts, sentinel]})
    ok_ids = [h.headers["webhook-id"] for h in _ok(server, "/a")]
    assert sorted(ok_ids) == sorted({delivery_id(a["alert_id"], "webhook", "a") for a in [*alerts, sentinel]}), (
        "each alert delivered to A exactly once"
    )
    failed = [h for h in server.on("/a") if h.at < outage_until]
    assert failed, "A was down for a while"
    for hit in server.hits:
        assert verify_standard_webhook(SECRET_OLD, hit.headers, hit.body)
        assert verify_standard_webhook(SECRET_NEW, hit.headers, hit.body)
        assert abs(int(hit.headers["webhook-timestamp"]) - hit.at) <= 2, "timestamp is taken at each attempt"
    by_id: dict[str, list[int]] = {}
    for hit in server.on("/a"):
        by_id.setdefault(hit.headers["webhook-id"], []).append(int(hit.headers["webhook-timestamp"]))
    retried = [ts for ts in by_id.values() if len(ts) > 1]
    assert retried, "some deliveries needed several attempts"
    assert any(ts[-1] > ts[0] for ts in retried), "later attempts carry later timestamps"
    assert stats.sent == 62
    assert stats.dead_lettered == 0
    refused = len([h for h in server.on("/a") if h.status != 200])
    assert metric_deltas(before, deliver_metrics("webhook")) == {
        "notifications_sent": 62,
        "notifications_retrying": refused,  # one retry per refused request, none without a request
        "retries": refused,
        "latency_count": 62,
    }


def _ok(server: Receiver, path: str) -> list[Any]:
    return [h for h in server.on(path) if h.status == 200]


async def test_undecodable_alert_goes_to_the_dlq_and_the_partition_moves_on(settings: Settings) -> None:
    from confluent_kafka import Producer

    from alertstream.runtime.dlq import read_dlq
    from alertstream.runtime.kafka_clients import producer_config

    server = Receiver()
    await server.start()
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    config = config_with([{"name": "a", "channel": "webhook", "url": server.url("/a"), "allow_private": True}])
    good = make_alert([("a", "webhook")], fingerprint="same-key")
    producer = Producer(producer_config(settings.kafka_bootstrap))
    producer.produce(settings.topics.alerts, key=b"same-key", value=b"\xc3\x01garbage")
    assert producer.flush(10) == 0
    publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [good])
    before = deliver_metrics("webhook")
    try:
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            assert await wait_for(lambda: service.stats.sent == 1, 20)
    finally:
        await server.stop()
    assert len(server.hits) == 1
    assert metric_deltas(before, deliver_metrics("webhook")) == {"notifications_sent": 1, "dlq": 1, "latency_count": 1}
    (entry,) = list(read_dlq(settings.kafka_bootstrap, settings.topics, "webhook", codec=Codec()))
    assert entry.reason == "undecodable"
    assert entry.task is None
    assert entry.raw == b"\xc3\x01garbage"
    assert entry.headers["error"] == "truncated"


async def test_a_retry_tier_without_its_topic_refuses_to_start(settings: Settings) -> None:
    """A fifth tier added to the config without `topics create`: the process says which topic is
    missing instead of starting and failing later with tasks that have nowhere to go."""
    import asyncio

    from alertstream.schemas.errors import ConfigError

    config = config_with(
        [{"name": "a", "channel": "webhook", "url": "https://example.com/h"}],
        retry_delays_seconds=[1.0, 2.0, 3.0, 4.0, 5.0],
    )
    assert settings.database_url
    service = service_for("webhook", config, settings, schema_dsn(settings.database_url.get_secret_value()))
    with pytest.raises(ConfigError) as err:
        await service.run(asyncio.Event())
    assert err.value.problems == [
        (settings.topics.retry("webhook", 5), "topic does not exist: run `alertstream topics create` with this config")
    ]
