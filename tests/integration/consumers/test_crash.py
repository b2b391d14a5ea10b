"""Crash: SIGKILL `alertstream deliver webhook` mid-batch, restart → none lost, none notified twice
(the only re-sends are deliveries that were in flight at the kill, bounded by the in-flight limit)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
import yaml

from alertstream.runtime.settings import Settings
from tests.integration.consumers.helpers import (
    Receiver,
    deliver_env,
    make_alert,
    publish_alerts,
    start_deliver,
    stopped_counts,
    wait_for,
)

pytestmark = pytest.mark.integration

N = 1000
IN_FLIGHT = 20


async def test_sigkill_mid_batch_then_restart(settings: Settings, tmp_path: Path) -> None:
    server = Receiver(delay=0.05)
    await server.start()
    config = {
        "receivers": [{"name": "sink", "channel": "webhook", "url": server.url("/hook"), "allow_private": True}],
        "delivery": {
            "retry_delays_seconds": [0.5, 1, 2, 3],
            "max_in_flight": IN_FLIGHT,
            "max_in_flight_per_receiver": IN_FLIGHT,
            # No commit before the kill: every delivery made so far is read again after the
            # restart, and only the ledger keeps those from notifying a second time.
            "commit_interval_seconds": 30,
        },
    }
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = deliver_env(settings, config_file)
    assert settings.kafka_bootstrap is not None
    alerts = [make_alert([("sink", "webhook")]) for _ in range(N)]
    publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts)
    first = start_deliver("webhook", env, tmp_path / "first.log")
    second = None
    try:
        assert await wait_for(lambda: len(server.hits) >= 300, 60), (tmp_path / "first.log").read_text()[-2000:]
        first.send_signal(signal.SIGKILL)
        killed_at = time.time()
        await asyncio.to_thread(first.wait)
        before_kill = len(server.hits)
        assert before_kill < N, "killed mid-batch"
        second = start_deliver("webhook", env, tmp_path / "second.log")
        assert await wait_for(lambda: len({h.headers["webhook-id"] for h in server.hits}) >= N, 90)
        # a later alert: once it is through, the re-read backlog before it has been handled
        sentinel = make_alert([("sink", "webhook")])
        publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [sentinel])
        assert await wait_for(lambda: len({h.headers["webhook-id"] for h in server.hits}) >= N + 1, 30)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 30) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
        await server.stop()

    ids = [h.headers["webhook-id"] for h in server.hits]
    from alertstream.consumers.model import delivery_id

    assert set(ids) == {delivery_id(a["alert_id"], "webhook", "sink") for a in [*alerts, sentinel]}, "none lost"
    first_seen: dict[str, float] = {}
    for h in server.hits:
        first_seen.setdefault(h.headers["webhook-id"], h.at)
    twice = {i for i in ids if ids.count(i) > 1}
    # Only deliveries in flight at the kill may be re-sent (same webhook-id, for the receiver to
    # drop); everything that had completed was in the ledger and is never notified again.
    assert len(twice) <= IN_FLIGHT, f"{len(twice)} re-sent"
    assert all(first_seen[i] >= killed_at - 1.0 for i in twice)
    assert all(ids.count(i) == 2 for i in twice)
    log = (tmp_path / "second.log").read_text()
    assert "deliver webhook stopped" in log
    # nothing was committed before the kill, so every delivery that reached the receiver is read
    # again: in the ledger (completed) it is a duplicate, otherwise (in flight) it is re-sent
    assert stopped_counts(log)["duplicates"] + len(twice) == before_kill, "the ledger suppressed the rest"
