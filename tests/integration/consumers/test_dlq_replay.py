"""Permanent failures go straight to the DLQ with their reason; `dlq replay` delivers each once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from alertstream.runtime.dlq import read_dlq, replay
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


def _cli(settings: Settings, dsn: str, *args: str) -> str:
    assert settings.kafka_bootstrap is not None
    env = {
        **os.environ,
        "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ALERTSTREAM_DATABASE_URL": dsn,
        "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
    }
    done = subprocess.run(
        [sys.executable, "-m", "alertstream", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_permanent_failures_dead_letter_at_once_and_replay_delivers_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = False

    def respond(path: str, _n: int) -> tuple[int, dict[str, str]]:
        if fixed:
            return 200, {}
        return {"/bad": 400, "/gone": 410}.get(path, 200), {}

    server = Receiver(respond=respond)
    await server.start()
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    monkeypatch.setenv("T_PRIVATE_URL", server.url("/private"))
    receivers: list[dict[str, Any]] = [
        {"name": "bad", "channel": "webhook", "url": server.url("/bad"), "allow_private": True},
        {"name": "gone", "channel": "webhook", "url": server.url("/gone"), "allow_private": True},
        # refused address: a loopback URL (from the environment: in the file, `config validate`
        # refuses it) on a receiver that does not allow private targets
        {"name": "private", "channel": "webhook", "url_env": "T_PRIVATE_URL"},
        # takes the sentinels: alerts published after the others, a positive "all done" marker
        {"name": "ok", "channel": "webhook", "url": server.url("/ok"), "allow_private": True},
    ]
    alerts = {name: make_alert([(name, "webhook")]) for name in ("bad", "gone", "private")}

    async def sentinel_through(service: Any, n: int) -> None:
        publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [make_alert([("ok", "webhook")])])
        assert await wait_for(lambda: len(server.on("/ok")) == n, 20)

    before = deliver_metrics("webhook")
    try:
        async with Running(service_for("webhook", config_with(receivers), settings, dsn)) as service:
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, list(alerts.values()))
            assert await wait_for(lambda: service.stats.dead_lettered >= 3, 20)
            await sentinel_through(service, 1)
            stats = service.stats
        assert stats.retried == 0, "permanent failures are never retried"
        assert stats.dead_lettered == 3
        assert metric_deltas(before, deliver_metrics("webhook")) == {
            "notifications_dead_lettered": 2,  # bad (4xx), private (SSRF)
            "notifications_disabled": 1,  # gone (410)
            "dlq": 3,
            "notifications_sent": 1,  # the sentinel
            "latency_count": 1,
        }
        assert len(server.on("/bad")) == 1
        assert len(server.on("/gone")) == 1
        assert server.on("/private") == [], "no connection to a refused address"
        entries = list(read_dlq(settings.kafka_bootstrap, settings.topics, "webhook", codec=Codec()))
        reasons = {e.task["receiver"]: e.reason for e in entries if e.task}
        assert reasons == {"bad": "http_4xx", "gone": "gone", "private": "ssrf_refused"}
        assert len(entries) == 3
        assert all(e.headers["severity"] == "critical" for e in entries)
        listed = _cli(settings, dsn, "dlq", "list", "webhook")
        assert sorted(json.loads(line)["reason"] for line in listed.splitlines()) == [
            "gone",
            "http_4xx",
            "ssrf_refused",
        ]
        one = _cli(settings, dsn, "dlq", "list", "webhook", "--fingerprint", alerts["bad"]["fingerprint"])
        assert [json.loads(line)["receiver"] for line in one.splitlines()] == ["bad"]
        assert _cli(settings, dsn, "dlq", "list", "webhook", "--until", "2000-01-01T00:00:00Z") == ""
        assert _cli(settings, dsn, "db", "migrate").strip() == "database is up to date"

        # Fix the receivers (the server now answers 200; the private one is allowed by config) ...
        fixed = True
        receivers[2] = {**receivers[2], "allow_private": True}
        before = deliver_metrics("webhook")
        async with Running(service_for("webhook", config_with(receivers), settings, dsn)) as service:
            # ... and replay twice: each task is delivered exactly once.
            assert replay(settings.kafka_bootstrap, settings.topics, "webhook", codec=Codec()) == (3, 0)
            assert replay(settings.kafka_bootstrap, settings.topics, "webhook", codec=Codec()) == (3, 0)
            assert await wait_for(lambda: service.stats.sent + service.stats.duplicates >= 6, 30)
            await sentinel_through(service, 2)
            stats = service.stats
    finally:
        await server.stop()
    assert stats.sent == 4  # three replayed, one sentinel
    assert stats.duplicates == 3
    assert metric_deltas(before, deliver_metrics("webhook")) == {
        "notifications_sent": 4,
        "notifications_duplicate": 3,
        "latency_count": 4,
    }
    assert [h.status for h in server.on("/bad")] == [400, 200]
    assert [h.status for h in server.on("/gone")] == [410, 200]
    assert [h.status for h in server.on("/private")] == [200]
    ids = {p: server.on(p)[-1].headers["webhook-id"] for p in ("/bad", "/gone", "/private")}
    assert server.on("/bad")[0].headers["webhook-id"] == ids["/bad"], "replay keeps the delivery id"
    assert len(set(ids.values())) == 3
