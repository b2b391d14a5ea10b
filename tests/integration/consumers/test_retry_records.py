"""What deliver reads back from its retry tiers is checked before it is acted on.

A retry-tier record is valid Avro written by anyone with access to the topic (or by an older
version, or `dlq replay`): an attempt of 2**31-1, a foreign channel, a delivery id that is not the
task's, a due time ten years away. None of these may stop the process, hold its partition or fail
the deliveries next to it; an invalid one goes to the DLQ with the reason, the offset moves on.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from alertstream.consumers.model import delivery_id, tasks_for
from alertstream.runtime.dlq import read_dlq
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import DELIVERY_TASK, Codec
from tests.integration.consumers.helpers import (
    Receiver,
    Running,
    config_with,
    deliver_metrics,
    make_alert,
    metric_deltas,
    publish_alerts,
    publish_to,
    schema_dsn,
    service_for,
    wait_for,
)

pytestmark = pytest.mark.integration

RECEIVERS = [{"name": "ops", "channel": "webhook", "url": "", "allow_private": True}]


def _task(**over: Any) -> dict[str, Any]:
    (task,) = tasks_for(make_alert([("ops", "webhook")]), "webhook")
    return {**task, "attempt": 1, "first_attempt_at": int(time.time() * 1000), "not_before": 0, **over}


def _records(tasks: list[dict[str, Any]]) -> list[tuple[int | None, bytes, bytes]]:
    codec = Codec()
    return [(0, t["alert"]["fingerprint"].encode(), codec.encode(DELIVERY_TASK, t)) for t in tasks]


def _ids(server: Receiver) -> list[str]:
    return [h.headers["webhook-id"] for h in server.hits]


async def test_invalid_retry_records_are_dead_lettered_and_the_rest_delivered(settings: Settings) -> None:
    server = Receiver()
    await server.start()
    config = config_with([{**RECEIVERS[0], "url": server.url("/ops")}])
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    bad = {
        "attempt 2147483647 not in 0..1000000": _task(attempt=2**31 - 1),
        "attempt -1 not in 0..1000000": _task(attempt=-1),
        "channel 'slack' is not this group's (webhook)": _task(channel="slack"),
        "delivery_id is not the one of (alert_id, channel, receiver)": _task(delivery_id="msg_" + "0" * 32),
        "receiver is empty": _task(receiver=""),
    }
    good = [_task() for _ in range(5)]
    # interleaved on one partition: the good ones share ledger batches with the bad ones
    records = [t for pair in zip(bad.values(), good, strict=True) for t in pair]
    sentinel = make_alert([("ops", "webhook")])
    before = deliver_metrics("webhook")
    try:
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            publish_to(settings.kafka_bootstrap, settings.topics.retry("webhook", 1), _records(records))
            assert await wait_for(lambda: len(set(_ids(server))) >= 5, 20), service.stats
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [sentinel])
            sentinel_id = delivery_id(sentinel["alert_id"], "webhook", "ops")
            assert await wait_for(lambda: sentinel_id in _ids(server), 20)
            assert await wait_for(lambda: service.stats.sent >= 6, 10)
            stats = service.stats
    finally:
        await server.stop()
    assert sorted(_ids(server)) == sorted([t["delivery_id"] for t in good] + [sentinel_id]), "no invalid task sent"
    entries = list(read_dlq(settings.kafka_bootstrap, settings.topics, "webhook", codec=Codec()))
    assert sorted((e.reason, e.headers["error"]) for e in entries) == sorted(("invalid_task", e) for e in bad)
    assert all(e.headers["source.topic"] == settings.topics.retry("webhook", 1) for e in entries)
    assert (stats.sent, stats.dead_lettered) == (6, 5)
    assert metric_deltas(before, deliver_metrics("webhook")) == {
        "notifications_sent": 6,
        "notifications_dead_lettered": 5,
        "dlq": 5,
        "latency_count": 6,
    }


async def test_a_due_time_years_away_is_clamped_to_the_tiers_longest_delay(settings: Settings) -> None:
    """Tier 1 waits at most max(1 s x (1 + jitter), max_retry_after 3 s) from the record's time."""
    server = Receiver()
    await server.start()
    config = config_with([{**RECEIVERS[0], "url": server.url("/ops")}], max_retry_after_seconds=3.0)
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    ten_years = int(time.time() * 1000) + 10 * 365 * 86_400_000
    far = _task(not_before=ten_years)
    behind = [_task() for _ in range(5)]
    try:
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            published = time.time()
            publish_to(settings.kafka_bootstrap, settings.topics.retry("webhook", 1), _records([far, *behind]))
            assert await wait_for(lambda: len(server.hits) >= 6, 30), f"{len(server.hits)} of 6; {service.stats}"
            stats = service.stats
    finally:
        await server.stop()
    assert sorted(_ids(server)) == sorted(t["delivery_id"] for t in [far, *behind])
    far_hit = next(h for h in server.hits if h.headers["webhook-id"] == far["delivery_id"])
    assert 2.5 <= far_hit.at - published <= 15, "held for the tier's longest delay, no longer"
    assert stats.sent == 6


async def test_a_failed_resume_is_retried(settings: Settings) -> None:
    """The partition of a retry that fell due is resumed even when the first resume() fails."""
    server = Receiver()
    await server.start()
    config = config_with([{**RECEIVERS[0], "url": server.url("/ops")}])
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    service = service_for("webhook", config, settings, dsn)
    failures = 0
    real_kafka = service._kafka

    async def flaky_kafka(fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if getattr(fn, "__name__", "") == "resume" and failures == 0:
            failures += 1
            raise KafkaException(KafkaError(KafkaError._STATE, "injected resume failure"))
        return await real_kafka(fn, *args, **kwargs)

    service._kafka = flaky_kafka
    first = make_alert([("ops", "webhook")])
    try:
        async with Running(service):
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [first])
            assert await wait_for(lambda: len(server.hits) == 1, 30), "the group is up"
            waiting = _task(not_before=int(time.time() * 1000) + 2000)  # pauses its partition for 2 s
            publish_to(settings.kafka_bootstrap, settings.topics.retry("webhook", 1), _records([waiting]))
            assert await wait_for(lambda: len(server.hits) == 2, 20), "the partition stayed paused"
    finally:
        await server.stop()
    assert failures == 1
    assert _ids(server) == [delivery_id(first["alert_id"], "webhook", "ops"), waiting["delivery_id"]]
