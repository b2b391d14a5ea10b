"""A deliver loop that stops making progress turns /healthz to 503 (while /metrics keeps answering)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from alertstream.consumers.deliver import DeliveryService
from alertstream.consumers.model import Task
from alertstream.runtime.health import Health, start_server
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from tests import probes
from tests.integration.consumers.helpers import config_with, make_alert, publish_alerts, schema_dsn
from tests.polling import eventually

pytestmark = pytest.mark.integration
STALL_S = 3.0


class WedgingChannel:
    """The test hook: its send blocks the event loop (a synchronous call stuck inside a coroutine,
    the bug class /healthz exists for) until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    async def send(self, task: Task) -> int | None:
        self.entered.set()
        self.release.wait(120)  # blocks the loop on purpose
        return 200

    async def aclose(self) -> None:
        return None


def probe(port: int, path: str) -> tuple[int, Any]:
    answer = probes.probe(port, path, timeout=5)
    assert answer is not None, f"nothing answers {path} on {port}"
    status, text = answer
    return status, (json.loads(text) if path != "/metrics" else text)


def test_a_wedged_deliver_loop_fails_healthz_and_readyz_follows_the_assignment(settings: Settings) -> None:
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    health = Health(stall_after_s=STALL_S)
    server = start_server(0, health, "127.0.0.1")
    port = server.server_port
    channel = WedgingChannel()
    config = config_with([{"name": "a", "channel": "webhook", "url": "https://hooks.example.com/a"}])
    service = DeliveryService(
        "webhook",
        channel,
        config,
        settings.kafka_bootstrap,
        schema_dsn(settings.database_url.get_secret_value()),
        settings.topics,
        codec=Codec(),
        health=health,
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    runner = threading.Thread(target=lambda: loop.run_until_complete(service.run(stop)), daemon=True)
    try:
        status, before = probe(port, "/readyz")
        assert status == 503
        assert before["failing"] == ["database", "partitions"]
        runner.start()
        assert eventually(lambda: probe(port, "/readyz")[0] == 200, 60), probe(port, "/readyz")
        ready = probe(port, "/readyz")[1]
        assert ready["checks"]["partitions"]["ok"] is True
        assert set(ready["checks"]) == {"broker", "database", "partitions"}
        assert probe(port, "/healthz")[0] == 200  # idle but assigned: the loop keeps beating

        publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [make_alert([("a", "webhook")])])
        assert channel.entered.wait(60), "the delivery never started"
        wedged_at = time.monotonic()
        assert eventually(lambda: probe(port, "/healthz")[0] == 503, STALL_S + 10)
        # not before the stall limit (the last beat came a few ms before the channel wedged)
        assert time.monotonic() - wedged_at >= STALL_S - 0.25
        status, body = probe(port, "/healthz")
        assert status == 503
        assert body["status"] == "stalled"
        assert body["failing"] == ["loop"]
        assert "while it has work" in body["checks"]["loop"]["detail"]
        assert probe(port, "/metrics")[0] == 200, "the metrics thread still answers: why /metrics is no probe"

        channel.release.set()
        assert eventually(lambda: probe(port, "/healthz")[0] == 200, 30), "healthy again once the loop moves"
    finally:
        channel.release.set()
        loop.call_soon_threadsafe(stop.set)
        runner.join(60)
        if not runner.is_alive():
            loop.close()
        server.shutdown()
        server.server_close()
    assert not runner.is_alive()
    assert service.stats.sent == 1
