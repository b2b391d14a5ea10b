"""Slack and PagerDuty channels end to end against local HTTP servers (real broker and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from alertstream.runtime.settings import Settings
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


async def test_pagerduty_429_retry_after_then_trigger_and_resolve(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_PD_KEY", "R0UTINGKEY0000000000000000000000")
    server = Receiver(respond=lambda _p, n: (429, {"Retry-After": "2"}) if n == 0 else (202, {}))
    await server.start()
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    receivers = [
        {"name": "pd", "channel": "pagerduty", "url": server.url("/v2/enqueue"), "routing_key_env": "T_PD_KEY"}
        | {"allow_private": True}
    ]
    firing = make_alert([("pd", "pagerduty")], severity="warning")
    resolved = make_alert([("pd", "pagerduty")], status="resolved", fingerprint=firing["fingerprint"])
    before = deliver_metrics("pagerduty")
    try:
        async with Running(service_for("pagerduty", config_with(receivers), settings, dsn)) as service:
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [firing])
            assert await wait_for(lambda: service.stats.sent == 1, 20)
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [resolved])
            assert await wait_for(lambda: service.stats.sent == 2, 20)
            stats = service.stats
    finally:
        await server.stop()
    assert [h.status for h in server.hits] == [429, 202, 202]
    assert metric_deltas(before, deliver_metrics("pagerduty")) == {
        "notifications_sent": 2,
        "notifications_retrying": 1,
        "retries": 1,
        "latency_count": 2,
    }
    assert server.hits[1].at - server.hits[0].at >= 1.9, "Retry-After honoured"
    assert stats.retried == 1
    bodies = [json.loads(h.body) for h in server.hits]
    assert bodies[0] == bodies[1], "the retry sends the same event"
    assert bodies[1]["event_action"] == "trigger"
    assert bodies[1]["dedup_key"] == firing["fingerprint"]
    assert bodies[1]["payload"]["severity"] == "warning"
    assert bodies[2] == {
        "routing_key": "R0UTINGKEY0000000000000000000000",
        "event_action": "resolve",
        "dedup_key": firing["fingerprint"],
    }


async def test_slack_incoming_webhook_from_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    server = Receiver()
    await server.start()
    monkeypatch.setenv("T_SLACK_URL", server.url("/services/T0/B0/secret"))
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    receivers = [{"name": "chat", "channel": "slack", "url_env": "T_SLACK_URL", "allow_private": True}]
    alerts = [make_alert([("chat", "slack"), ("ops", "webhook")]) for _ in range(3)]
    sentinel = make_alert([("chat", "slack")])
    before = deliver_metrics("slack")
    try:
        async with Running(service_for("slack", config_with(receivers), settings, dsn)) as service:
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts)
            assert await wait_for(lambda: service.stats.sent == 3, 20)
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [sentinel])  # a later marker
            assert await wait_for(lambda: service.stats.sent == 4, 20)
            stats = service.stats
    finally:
        await server.stop()
    assert stats.dead_lettered == 0, "the webhook route is not the slack group's business"
    assert len(server.hits) == 4
    assert metric_deltas(before, deliver_metrics("slack")) == {"notifications_sent": 4, "latency_count": 4}
    for hit in server.hits:
        body = json.loads(hit.body)
        assert body["text"].startswith(":red_circle: [CRITICAL] FIRING: cpu-high")
        assert [b["type"] for b in body["blocks"]][:3] == ["header", "section", "section"]
        assert hit.headers["content-type"] == "application/json"
        assert "webhook-signature" not in hit.headers
