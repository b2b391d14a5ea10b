"""Registry mode end to end, through the real processes: events in the Confluent wire format ->
`alertstream worker` -> alerts -> `alertstream deliver webhook` -> a webhook receiver, and
`alertstream store` -> PostgreSQL, against a Confluent-compatible registry on loopback that goes
down for 30 s while the processes start and read their first records. Nothing is lost, nothing is
invalid, nothing is dead-lettered, and the registry's password shows up nowhere."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from confluent_kafka import Producer

from alertstream.local_stack import free_port
from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.metrics import scrape
from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.codec import load_current
from alertstream.schemas.events import MetricEvent
from tests.integration.consumers.helpers import Receiver, make_alert, schema_dsn, wait_for
from tests.kafka_reader import read_topic
from tests.probes import probe
from tests.schema_registry_server import RegistryServer, confluent_frame

pytestmark = pytest.mark.integration

OUTAGE_S = 30.0
EVENTS = 20  # each fires one alert (a fresh source each)
DIRECT = 5  # alerts another producer writes straight to `alerts`
PARTITIONS = 6
USER, PASSWORD = "sr-user", "sr-pass-XXXXSECRET"  # test-only credentials


def _event(i: str) -> MetricEvent:
    return MetricEvent(f"ev-{i}", "acme", "cpu_percent", 95.0, f"host-{i}", int(time.time() * 1000))


def _sum(port: int, name: str, **labels: str) -> float:
    samples = scrape(port, name, timeout=2) or []
    return sum(v for got, v in samples if all(got.get(k) == want for k, want in labels.items()))


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "alertstream", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _readiness(port: int) -> dict[str, Any]:
    got = probe(port, "/readyz")
    return json.loads(got[1]) if got and got[1].startswith("{") else {}


async def test_registry_mode_end_to_end_survives_a_30s_registry_outage(settings: Settings, tmp_path: Path) -> None:
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    prefix = settings.topic_prefix
    registry = RegistryServer(basic=(USER, PASSWORD)).start()
    receiver = await Receiver().start()
    # another producer registered the schemas it writes (its own frames: not alertstream's codec)
    metric_schema, alert_schema = load_current(c.METRIC_EVENT).parsed, load_current(c.ALERT).parsed
    metric_id = registry.register(f"{prefix}events.metric-value", metric_schema)
    alert_id = registry.register(f"{prefix}alerts-value", alert_schema)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "rules": [{"id": "cpu-high", "metric": "cpu_percent", "operator": ">", "warning": 70}],
                "routes": {"receiver": "hook"},
                "receivers": [
                    {"name": "hook", "channel": "webhook", "url": receiver.url("/hook"), "allow_private": True}
                ],
                "delivery": {"retry_delays_seconds": [0.5, 1, 2, 3]},
            }
        )
    )
    dsn = schema_dsn(settings.database_url.get_secret_value())
    env = {
        **os.environ,
        "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ALERTSTREAM_DATABASE_URL": dsn,
        "ALERTSTREAM_TOPIC_PREFIX": prefix,
        "ALERTSTREAM_CONFIG": str(config),
        "ALERTSTREAM_SCHEMA_REGISTRY_URL": registry.url,
        "ALERTSTREAM_SCHEMA_REGISTRY_USERNAME": USER,
        "ALERTSTREAM_SCHEMA_REGISTRY_PASSWORD": PASSWORD,
    }
    producer = Producer(producer_config(settings.kafka_bootstrap))

    def produce_events(events: list[MetricEvent], partitions: bool = False) -> None:
        for p, event in enumerate(events):
            value = confluent_frame(metric_id, metric_schema, event.to_record())
            if partitions:  # one per partition: a marker behind everything earlier in each
                producer.produce(settings.topics.events_metric, key=event.key(), value=value, partition=p)
            else:
                producer.produce(settings.topics.events_metric, key=event.key(), value=value)
        assert producer.flush(30) == 0

    events = [_event(str(i)) for i in range(EVENTS)]
    direct = [make_alert([("hook", "webhook")]) for _ in range(DIRECT)]
    ports = {name: free_port() for name in ("worker", "deliver", "store")}
    commands = {"worker": ["worker"], "deliver": ["deliver", "webhook"], "store": ["store"]}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    try:
        registry.stop()  # the outage begins: ids are known to the producer, not to the processes
        down_at = time.monotonic()
        produce_events(events)
        for alert in direct:
            producer.produce(
                settings.topics.alerts,
                key=alert["fingerprint"].encode(),
                value=confluent_frame(alert_id, alert_schema, alert),
            )
        assert producer.flush(30) == 0
        for name, args in commands.items():
            procs[name] = _start(args, {**env, "ALERTSTREAM_METRICS_PORT": str(ports[name])}, logs[name])

        # every process reads its first records during the outage and waits (not ready), none gives up
        def all_waiting() -> bool:
            for name, proc in procs.items():
                assert proc.poll() is None, logs[name].read_text()[-3000:]
            return all("schema_registry" in _readiness(port).get("failing", []) for port in ports.values())

        # (start-up of three processes on a loaded 2-core box can take most of the 30 s: the outage
        # lasts until every process has waited in it for a while, and at least OUTAGE_S)
        assert await wait_for(all_waiting, 90), {
            "readiness": {name: _readiness(port) for name, port in ports.items()},
            "invalid": _sum(ports["worker"], "alertstream_events_invalid_total"),
            "dead_lettered": _sum(ports["deliver"], "alertstream_dlq_messages_total"),
        }
        await asyncio.sleep(max(5.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert receiver.hits == []
        assert _sum(ports["worker"], "alertstream_events_invalid_total") == 0
        assert _sum(ports["deliver"], "alertstream_dlq_messages_total") == 0
        registry.start()  # back, same port, same ids

        expected = EVENTS + DIRECT
        assert await wait_for(lambda: len(receiver.hits) >= expected, 120), len(receiver.hits)
        sentinels = [_event(f"sentinel-{p}") for p in range(PARTITIONS)]
        produce_events(sentinels, partitions=True)
        expected += PARTITIONS
        assert await wait_for(lambda: len(receiver.hits) >= expected, 60), len(receiver.hits)

        def stored() -> int:
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT count(*) FROM alerts").fetchone()
            return int(row[0]) if row else 0

        assert await wait_for(lambda: stored() >= expected, 60), stored()
        worker_invalid = _sum(ports["worker"], "alertstream_events_invalid_total")
        worker_consumed = _sum(ports["worker"], "alertstream_events_consumed_total", topic="events.metric")
        sent = _sum(ports["deliver"], "alertstream_notifications_total", channel="webhook", outcome="sent")
        dead = _sum(ports["deliver"], "alertstream_dlq_messages_total")
        skipped = _sum(ports["store"], "alertstream_store_skipped_total")
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        registry.stop()
        await receiver.stop()

    bodies = [json.loads(h.body) for h in receiver.hits]
    assert [h.status for h in receiver.hits] == [200] * expected
    assert len({h.headers["webhook-id"] for h in receiver.hits}) == expected, "each alert delivered once"
    per_event = Counter(e for b in bodies for e in b["event_ids"])
    assert per_event == Counter({e.event_id: 1 for e in [*events, *sentinels]} | {"e1": DIRECT, "e2": DIRECT})
    assert sorted(b["alert_id"] for b in bodies if b["alert_id"] in {a["alert_id"] for a in direct}) == sorted(
        a["alert_id"] for a in direct
    )
    assert worker_invalid == 0
    assert worker_consumed == EVENTS + PARTITIONS
    assert sent == expected
    assert dead == 0
    assert skipped == 0
    assert stored() == expected
    assert read_topic(settings.kafka_bootstrap, settings.topics.events_invalid, 0, settle=1.0) == []
    assert read_topic(settings.kafka_bootstrap, settings.topics.dlq("webhook"), 0, settle=1.0) == []
    for name, log in logs.items():
        assert PASSWORD not in log.read_text(), f"{name} logged the registry password"
