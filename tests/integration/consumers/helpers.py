"""Shared helpers of the consumers' integration tests: alerts, a recording HTTP receiver, a DB schema."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from confluent_kafka import Producer

from alertstream.runtime.kafka_clients import producer_config
from alertstream.schemas.codec import ALERT, Codec
from alertstream.schemas.config import AlertstreamConfig, parse_config


def make_alert(routes: list[tuple[str, str]], severity: str = "critical", **over: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    alert: dict[str, Any] = {
        "alert_id": f"a-{uuid.uuid4().hex}",
        "tenant": "acme",
        "rule_id": "cpu-high",
        "rule_version": 1,
        "status": "firing",
        "severity": severity,
        "fingerprint": f"fp-{uuid.uuid4().hex[:16]}",
        "entity": "host-1",
        "summary": "CPU above 90%",
        "details": json.dumps({"value": 97.5, "threshold": 90}),
        "labels": {"env": "prod"},
        "value": 97.5,
        "threshold": 90.0,
        "occurrence_count": 3,
        "suppressed_count": 0,
        "first_seen": now - 60_000,
        "last_seen": now,
        "emitted_at": now,
        "event_ids": ["e1", "e2"],
        "routes": [{"receiver": r, "channel": c} for r, c in routes],
        "rate_limited": False,
    }
    alert.update(over)
    return alert


def publish_alerts(bootstrap: str, topic: str, alerts: list[dict[str, Any]]) -> None:
    codec = Codec()
    producer = Producer(producer_config(bootstrap))
    for a in alerts:
        producer.produce(topic, key=a["fingerprint"].encode(), value=codec.encode(ALERT, a))
    assert producer.flush(30) == 0


def config_with(receivers: list[dict[str, Any]], **delivery: Any) -> AlertstreamConfig:
    """A config with the example's topic layout (4 retry tiers) and the given receivers."""
    d = {"retry_delays_seconds": [0.5, 1.0, 2.0, 3.0], "jitter": 0.1, **delivery}
    return parse_config({"receivers": receivers, "delivery": d}, "test")


def schema_dsn(database_url: str) -> str:
    """A fresh schema in the shared test database, migrated; returns a DSN whose search_path is it."""
    from alertstream.consumers.db import create_schema

    return create_schema(database_url, f"t_{uuid.uuid4().hex[:12]}")


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Independent Standard Webhooks verification, written from the spec (not consumers.signing)."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.split("_", 1)[1])
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    for part in headers.get("webhook-signature", "").split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 200


@dataclass
class Receiver:
    """A local HTTP receiver; ``respond(path, n)`` decides each answer (status, headers)."""

    hits: list[Hit] = field(default_factory=list)
    respond: Callable[[str, int], tuple[int, dict[str, str]]] = lambda _p, _n: (200, {})
    #: when set, decides instead of ``respond`` from the request itself (path, headers, body)
    decide: Callable[[Hit], tuple[int, dict[str, str]]] | None = None
    port: int = 0
    delay: float = 0.0
    runner: web.AppRunner | None = None
    #: serve HTTPS with this context (its certificate) instead of HTTP
    ssl_context: ssl.SSLContext | None = None

    def url(self, path: str) -> str:
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    async def start(self) -> Receiver:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            n = len(self.on(request.path))
            hit_headers = {k.lower(): v for k, v in request.headers.items()}
            hit = Hit(request.path, hit_headers, body, time.time())
            status, headers = self.decide(hit) if self.decide else self.respond(request.path, n)
            hit.status = status
            self.hits.append(hit)
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.Response(status=status, headers=headers, text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def wait_for(pred: Callable[[], bool], within: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


class Running:
    """A DeliveryService running in this event loop until ``stop()``."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> Any:
        self._task = asyncio.create_task(self.service.run(self._stop))
        return self.service

    async def __aexit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task


def service_for(channel: str, config: AlertstreamConfig, settings: Any, dsn: str) -> Any:
    from alertstream.consumers.channels import build_channel
    from alertstream.consumers.deliver import DeliveryService

    assert settings.kafka_bootstrap is not None
    return DeliveryService(
        channel, build_channel(channel, config), config, settings.kafka_bootstrap, dsn, settings.topics, codec=Codec()
    )


def deliver_env(settings: Any, config_file: Path) -> dict[str, str]:
    """The environment of an `alertstream deliver` subprocess on the test's stack and topics."""
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    return {
        **os.environ,
        "ALERTSTREAM_CONFIG": str(config_file),
        "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ALERTSTREAM_DATABASE_URL": schema_dsn(settings.database_url.get_secret_value()),
        "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "ALERTSTREAM_METRICS_PORT": "0",
    }


def start_deliver(channel: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`alertstream deliver CHANNEL` as a child process, stderr to ``log``."""
    with log.open("wb") as stderr:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "alertstream", "deliver", channel],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def stopped_counts(log_text: str) -> dict[str, int]:
    """The counts of the last ``deliver CHANNEL stopped: sent=.. retried=..`` line in a log."""
    line = log_text.rsplit(" stopped: ", 1)[1].split("\n", 1)[0]
    return {k: int(v) for k, v in (item.split("=") for item in line.split())}


def sample(name: str, **labels: str) -> float:
    """The value of a metric sample of this (test) process's registry; 0 when never set.

    In-process services share the default registry, so a test takes the value before and after
    and asserts the exact delta."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def deliver_metrics(channel: str) -> dict[str, float]:
    """The deliver contract metrics of ``channel`` now (sum over tiers for retries)."""
    from prometheus_client import REGISTRY

    out = {
        f"notifications_{o}": sample("alertstream_notifications_total", channel=channel, outcome=o)
        for o in ("sent", "duplicate", "retrying", "dead_lettered", "disabled", "superseded", "deferred")
    }
    out["retries"] = sum(
        s.value
        for family in REGISTRY.collect()
        if family.name == "alertstream_retries"
        for s in family.samples
        if s.name == "alertstream_retries_total" and s.labels.get("channel") == channel
    )
    out["dlq"] = sample("alertstream_dlq_messages_total", channel=channel)
    out["latency_count"] = sample("alertstream_notification_latency_seconds_count", channel=channel)
    return out


def metric_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Only the metrics that changed."""
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def publish_to(bootstrap: str, topic: str, records: list[tuple[int | None, bytes, bytes]], **headers: str) -> None:
    """Raw records (partition or None, key, value) with optional headers, acknowledged."""
    producer = Producer(producer_config(bootstrap, max_message_bytes=4_000_000))
    hdrs = [(k.replace("_", "-"), v.encode()) for k, v in headers.items()] or None
    for partition, key, value in records:
        if partition is None:
            producer.produce(topic, key=key, value=value, headers=hdrs)
        else:
            producer.produce(topic, key=key, value=value, partition=partition, headers=hdrs)
    assert producer.flush(30) == 0


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """Sum over the partitions of ``topic`` of the offsets ``group`` has committed (fresh topics
    start at 0, so this is the number of messages the group has finished)."""
    from confluent_kafka import Consumer, TopicPartition

    from alertstream.runtime.kafka_clients import consumer_config

    probe = Consumer(consumer_config(bootstrap, group))
    try:
        meta = probe.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p) for p in meta.topics[topic].partitions]
        return sum(max(tp.offset, 0) for tp in probe.committed(parts, timeout=10))
    finally:
        probe.close()


async def wait_for_outcome(bootstrap: str, topic: str, pred: Callable[[dict[str, Any]], bool], within: float) -> bool:
    """Wait until an outcome record on ``topic`` (alerts.deliveries) satisfies ``pred``: a positive
    marker of what a deliver process did, read as any consumer of the topic would."""
    from alertstream.schemas.codec import DELIVERY_OUTCOME
    from tests.kafka_reader import read_topic

    codec = Codec()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        records = await asyncio.to_thread(read_topic, bootstrap, topic, 10**9, 1.5, 0.0)
        if any(pred(codec.decode(r.value, DELIVERY_OUTCOME)) for r in records):
            return True
    return False
