"""Where a deliver group starts: a NEW group does not re-notify the retained history of `alerts`
(only what was produced within the look-back), an existing group resumes from its commits."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Producer

from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import ALERT, Codec
from tests.integration.consumers.helpers import (
    Receiver,
    Running,
    config_with,
    make_alert,
    schema_dsn,
    service_for,
    wait_for,
)

pytestmark = pytest.mark.integration
PARTITIONS = 6
TWO_HOURS_MS = 2 * 3600 * 1000


def _produce(settings: Settings, alerts: list[dict[str, Any]], timestamp_ms: int) -> None:
    """One alert per partition of `alerts`, with the given record timestamp (CreateTime)."""
    assert settings.kafka_bootstrap is not None
    codec = Codec()
    producer = Producer(producer_config(settings.kafka_bootstrap))
    for partition, alert in enumerate(alerts):
        producer.produce(
            settings.topics.alerts,
            key=alert["fingerprint"].encode(),
            value=codec.encode(ALERT, alert),
            partition=partition,
            timestamp=timestamp_ms,
        )
    assert producer.flush(30) == 0


async def test_a_new_group_skips_retained_history_and_an_existing_group_resumes(settings: Settings) -> None:
    server = Receiver()
    await server.start()
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    config = config_with([{"name": "a", "channel": "webhook", "url": server.url("/a"), "allow_private": True}])

    def batch() -> list[dict[str, Any]]:
        return [make_alert([("a", "webhook")]) for _ in range(PARTITIONS)]

    def delivered() -> list[str]:
        return [h.headers["webhook-id"] for h in server.on("/a")]

    history, fresh = batch(), batch()
    _produce(settings, history, int(time.time() * 1000) - TWO_HOURS_MS)  # retained from before the group
    try:
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            _produce(settings, fresh, int(time.time() * 1000))
            # one fresh alert per partition, each after the history in its partition: once all six
            # are delivered, every history record has been read (and must have been skipped)
            assert await wait_for(lambda: service.stats.sent >= PARTITIONS, 60), delivered()
            first_run = service.stats.sent
        ids = delivered()

        # The group now exists (it committed): records it has not read yet are delivered whatever
        # their timestamp, e.g. alerts produced with an old clock while it was down.
        late, sentinel = batch(), batch()
        _produce(settings, late, int(time.time() * 1000) - TWO_HOURS_MS)
        _produce(settings, sentinel, int(time.time() * 1000))
        async with Running(service_for("webhook", config, settings, dsn)) as service:
            assert await wait_for(lambda: service.stats.sent >= 2 * PARTITIONS, 60), delivered()
            second_run = service.stats.sent
    finally:
        await server.stop()

    from alertstream.consumers.model import delivery_id

    def ids_of(alerts: list[dict[str, Any]]) -> set[str]:
        return {delivery_id(a["alert_id"], "webhook", "a") for a in alerts}

    assert first_run == PARTITIONS
    assert sorted(ids) == sorted(ids_of(fresh)), "a new group delivers only what is within its look-back"
    assert second_run == 2 * PARTITIONS
    assert sorted(delivered()) == sorted(ids_of(fresh) | ids_of(late) | ids_of(sentinel))
