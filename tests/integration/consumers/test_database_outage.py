"""PostgreSQL stops under `alertstream deliver`: nothing is sent that cannot be recorded.

A database of its own (embedded PostgreSQL, stopped and started again by the test): during the
outage no new notification goes out (only those already in flight), the process stays up in its
group (partitions paused, polling on) and logs a bounded number of lines; when the database is
back it resumes by itself and delivers the rest with no duplicates.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psutil
import psycopg
import pytest
import yaml

from alertstream.local_stack import LocalStack, StackInfo, die_with_parent
from alertstream.runtime.settings import Settings
from tests.integration.consumers.helpers import (
    Receiver,
    make_alert,
    publish_alerts,
    schema_dsn,
    start_deliver,
    wait_for,
)

pytestmark = pytest.mark.integration

N = 2000
SLOTS = 20


class Postgres:
    """Stop and start again the PostgreSQL of a LocalStack (same data directory and port)."""

    def __init__(self, info: StackInfo) -> None:
        server = psutil.Process(info.pids["postgres"])
        self.cmdline = server.cmdline()
        self.uid, self.gid = server.uids().real, server.gids().real
        self.url = info.database_url
        self.pid = server.pid
        self.restarted: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGINT)  # fast shutdown: every session is ended at once
        psutil.Process(self.pid).wait(30)

    def start(self) -> None:
        self.restarted = subprocess.Popen(
            self.cmdline,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGQUIT, self.uid, self.gid),
        )
        self.pid = self.restarted.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url, connect_timeout=1):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise AssertionError("PostgreSQL did not come back")

    def close(self) -> None:
        if self.restarted is not None and self.restarted.poll() is None:
            self.restarted.send_signal(signal.SIGINT)
            self.restarted.wait(30)


def _env(settings: Settings, dsn: str, config_file: Path) -> dict[str, str]:
    assert settings.kafka_bootstrap is not None
    return {
        **os.environ,
        "ALERTSTREAM_CONFIG": str(config_file),
        "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ALERTSTREAM_DATABASE_URL": dsn,
        "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "ALERTSTREAM_METRICS_PORT": "0",
    }


def _config_file(tmp_path: Path, server: Receiver) -> Path:
    config = {
        "receivers": [{"name": "sink", "channel": "webhook", "url": server.url("/hook"), "allow_private": True}],
        "delivery": {"retry_delays_seconds": [0.5, 1, 2, 3], "max_in_flight_per_receiver": SLOTS},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _noisy_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " WARNING " in line or " ERROR " in line]


async def test_database_outage_pauses_sending_and_resumes_without_duplicates(
    stack: StackInfo, settings: Settings, tmp_path: Path
) -> None:
    server = Receiver(delay=0.05)
    await server.start()
    log = tmp_path / "deliver.log"
    alerts = [make_alert([("sink", "webhook")]) for _ in range(N)]
    sentinel = make_alert([("sink", "webhook")])
    assert settings.kafka_bootstrap is not None
    with LocalStack(kafka_bootstrap=stack.bootstrap) as own:
        pg = Postgres(own)
        dsn = schema_dsn(own.database_url)
        proc = start_deliver("webhook", _env(settings, dsn, _config_file(tmp_path, server)), log)
        try:
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, alerts)
            assert await wait_for(lambda: len(server.hits) >= 300, 60), log.read_text()[-3000:]
            stopped_at = time.time()
            await asyncio.to_thread(pg.stop)
            assert await wait_for(lambda: "database unavailable" in log.read_text(), 20), log.read_text()[-3000:]
            at_outage = len(server.hits)
            await asyncio.sleep(8)  # the outage
            during = [h for h in server.hits if h.at > stopped_at]
            late = [h for h in during if h.at > stopped_at + 2.0]
            assert proc.poll() is None, f"deliver exited during the outage: {log.read_text()[-3000:]}"
            outage_log = log.read_text()
            await asyncio.to_thread(pg.start)
            assert await wait_for(lambda: len({h.headers["webhook-id"] for h in server.hits}) >= N, 90), (
                log.read_text()[-3000:]
            )
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [sentinel])
            assert await wait_for(lambda: len({h.headers["webhook-id"] for h in server.hits}) >= N + 1, 30)
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            await server.stop()
            pg.close()
    assert at_outage < N, "the outage began mid-backlog"
    assert len(during) <= SLOTS, f"{len(during)} POSTs after the database stopped (at most {SLOTS} were in flight)"
    assert late == [], "nothing is sent while the database is down"
    counts = Counter(h.headers["webhook-id"] for h in server.hits)
    assert [i for i, n in counts.items() if n > 1] == [], "no duplicates after recovery"
    assert len(counts) == N + 1
    assert "revoked" not in outage_log, "the group membership was kept"
    noisy = _noisy_lines(log.read_text())
    assert len(noisy) <= 6, noisy


async def test_deliver_started_while_the_database_is_down_waits_for_it(
    stack: StackInfo, settings: Settings, tmp_path: Path
) -> None:
    server = Receiver()
    await server.start()
    log = tmp_path / "deliver.log"
    assert settings.kafka_bootstrap is not None
    with LocalStack(kafka_bootstrap=stack.bootstrap) as own:
        pg = Postgres(own)
        dsn = schema_dsn(own.database_url)
        await asyncio.to_thread(pg.stop)
        proc = start_deliver("webhook", _env(settings, dsn, _config_file(tmp_path, server)), log)
        try:
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [make_alert([("sink", "webhook")])])
            assert await wait_for(lambda: "database unavailable" in log.read_text() or proc.poll() is not None, 30)
            assert proc.poll() is None, f"deliver exited: {log.read_text()[-3000:]}"
            await asyncio.to_thread(pg.start)
            assert await wait_for(lambda: len(server.hits) == 1, 60), log.read_text()[-3000:]
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            await server.stop()
            pg.close()
    assert len(_noisy_lines(log.read_text())) <= 3, _noisy_lines(log.read_text())
