"""A running `alertstream deliver` follows `config publish`: receivers added live are delivered to,
an alert routed under a config the process has not read yet waits in the retry tiers instead of
being dead-lettered, and a name unknown to the config it was routed under is dead-lettered."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertstream.consumers.model import delivery_id
from alertstream.runtime.dlq import read_dlq
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from alertstream.streams.config_feed import publish_config
from tests.integration.consumers.helpers import (
    Receiver,
    deliver_env,
    make_alert,
    publish_alerts,
    start_deliver,
    stopped_counts,
    wait_for,
    wait_for_outcome,
)

pytestmark = pytest.mark.integration


def _config(version: int, server: Receiver, names: list[str]) -> dict[str, Any]:
    return {
        "version": version,
        "receivers": [
            {"name": n, "channel": "webhook", "url": server.url(f"/{n}"), "allow_private": True} for n in names
        ],
        # as many tiers as the test's topics have; long enough for the late config to arrive
        "delivery": {"retry_delays_seconds": [1, 2, 4, 8], "jitter": 0.0},
    }


async def test_deliver_follows_live_receiver_changes(settings: Settings, tmp_path: Path) -> None:
    server = Receiver()
    await server.start()
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(_config(1, server, ["a"])))
    assert settings.kafka_bootstrap is not None
    bootstrap, topics = settings.kafka_bootstrap, settings.topics
    log = tmp_path / "deliver.log"
    proc = start_deliver("webhook", deliver_env(settings, config_file), log)
    try:
        publish_alerts(bootstrap, topics.alerts, [make_alert([("a", "webhook")], rule_version=1)])
        assert await wait_for(lambda: len(server.on("/a")) == 1, 30), log.read_text()[-2000:]

        # version 2 adds receiver b while the process runs
        publish_config(bootstrap, topics.config, _config(2, server, ["a", "b"]), in_force=1)
        publish_alerts(bootstrap, topics.alerts, [make_alert([("b", "webhook")], rule_version=2)])
        assert await wait_for(lambda: len(server.on("/b")) == 1, 30), log.read_text()[-2000:]

        # routed under version 3 before this process has read it: retried, not dead-lettered ...
        c_alert = make_alert([("c", "webhook")], rule_version=3)
        publish_alerts(bootstrap, topics.alerts, [c_alert])
        # ... and a name its own config version does not have: dead-lettered at once
        stray = make_alert([("nobody", "webhook")], rule_version=2)
        publish_alerts(bootstrap, topics.alerts, [stray])
        c_id = delivery_id(c_alert["alert_id"], "webhook", "c")
        assert await wait_for_outcome(
            bootstrap, topics.deliveries, lambda o: (o["delivery_id"], o["reason"]) == (c_id, "config_behind"), 30
        ), "c was tried and put on a retry tier"
        assert server.on("/c") == []
        publish_config(bootstrap, topics.config, _config(3, server, ["a", "b", "c"]), in_force=2)
        assert await wait_for(lambda: len(server.on("/c")) == 1, 30), log.read_text()[-2000:]

        # a later alert: once it is through, nothing published before it is pending
        publish_alerts(bootstrap, topics.alerts, [make_alert([("a", "webhook")], rule_version=3)])
        assert await wait_for(lambda: len(server.on("/a")) == 2, 30), log.read_text()[-2000:]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        await server.stop()

    assert sorted(h.path for h in server.hits) == ["/a", "/a", "/b", "/c"]
    dead = list(read_dlq(bootstrap, topics, "webhook", codec=Codec()))
    assert [(e.reason, e.task["alert"]["alert_id"] if e.task else None) for e in dead] == [
        ("unknown_receiver", stray["alert_id"])
    ]
    text = log.read_text()
    assert "config version 3 from topic" in text
    counts = stopped_counts(text)
    assert counts["sent"] == 4
    assert counts["dead_lettered"] == 1
    assert counts["duplicates"] == 0
    assert counts["retried"] >= 1  # c waited in the retry tiers for version 3
