"""SIGTERM stops `alertstream deliver` within its grace period, whatever the broker does, and
commits exactly what finished."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from alertstream.consumers.deliver import group_id
from alertstream.local_stack import LocalStack, StackInfo
from alertstream.runtime.settings import Settings
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas.config import load_config
from tests.integration.consumers.helpers import (
    Receiver,
    committed_total,
    deliver_env,
    make_alert,
    publish_alerts,
    start_deliver,
    wait_for,
)

pytestmark = pytest.mark.integration

GRACE = 3.0
MARGIN = 3.0


def _config_file(tmp_path: Path, server: Receiver, **delivery: object) -> Path:
    config = {
        "receivers": [{"name": "sink", "channel": "webhook", "url": server.url("/hook"), "allow_private": True}],
        "delivery": {"retry_delays_seconds": [0.5, 1, 2, 3], "shutdown_grace_seconds": GRACE, **delivery},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start_child(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The real `deliver webhook` command with a producer queue of 20 messages."""
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.consumers.deliver_child", "webhook", "20"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


async def test_sigterm_with_the_broker_gone_and_the_producer_queue_full(
    stack: StackInfo, settings: Settings, tmp_path: Path
) -> None:
    server = Receiver(delay=0.05)
    await server.start()
    config_file = _config_file(tmp_path, server, max_in_flight_per_receiver=5)
    log = tmp_path / "deliver.log"
    proc: subprocess.Popen[bytes] | None = None
    # a broker of its own, to be killed
    with LocalStack(database_url=stack.database_url) as own:
        try:
            create_topics(own.bootstrap, load_config(settings.config), settings.topics)
            publish_alerts(
                own.bootstrap, settings.topics.alerts, [make_alert([("sink", "webhook")]) for _ in range(300)]
            )
            env = {**deliver_env(settings, config_file), "ALERTSTREAM_KAFKA_BOOTSTRAP": own.bootstrap}
            proc = _start_child(env, log)
            assert await wait_for(lambda: len(server.hits) >= 20, 60), log.read_text()[-3000:]
            os.kill(own.pids["tansu"], signal.SIGKILL)
            killed_hits = len(server.hits)
            # deliveries go on from what was fetched; their outcomes fill the producer's queue
            assert await wait_for(lambda: len(server.hits) >= killed_hits + 25, 20)
            await asyncio.sleep(0.5)
            assert proc.poll() is None
            sent_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            stopped = await wait_for(lambda: proc is not None and proc.poll() is not None, GRACE + MARGIN)
            took = time.monotonic() - sent_at
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
            await server.stop()
    assert stopped, f"still running {GRACE + MARGIN} s after SIGTERM: {log.read_text()[-3000:]}"
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert took <= GRACE + MARGIN
    assert "deliver webhook stopped" in log.read_text()


async def test_sigterm_commits_exactly_what_finished(settings: Settings, tmp_path: Path) -> None:
    server = Receiver(delay=0.2)
    await server.start()
    config_file = _config_file(tmp_path, server, max_in_flight_per_receiver=4)
    assert settings.kafka_bootstrap is not None
    publish_alerts(
        settings.kafka_bootstrap, settings.topics.alerts, [make_alert([("sink", "webhook")]) for _ in range(200)]
    )
    log = tmp_path / "deliver.log"
    proc = start_deliver("webhook", deliver_env(settings, config_file), log)
    try:
        assert await wait_for(lambda: len(server.hits) >= 30, 60), log.read_text()[-3000:]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, GRACE + MARGIN + 10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        await server.stop()
    hits = len(server.hits)
    assert hits < 200, "stopped mid-way"
    # every delivery that got its answer within the grace period is committed, nothing else
    group = group_id("webhook", settings.topic_prefix)
    assert committed_total(settings.kafka_bootstrap, group, settings.topics.alerts) == hits
