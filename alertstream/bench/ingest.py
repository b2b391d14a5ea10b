"""Ingest benchmark (the ``api-ingest`` part of `alertstream bench`): ``POST /api/v2/alerts``, the
endpoint Prometheus sends its alerts to, against Prometheus Alertmanager in the same run.

`alertstream api` runs as its own process (as deployed: one uvicorn process, one core at most)
with a broker and a fresh database schema. The client sends prebuilt batches of ``batch`` alerts
(Prometheus' payload shape, distinct label sets) on keep-alive connections: ``sequential`` is one
request at a time (as one Prometheus sends to one Alertmanager), ``concurrent`` keeps
``concurrency`` requests in flight (several Prometheus servers). A 200 means every alert of the
batch is acknowledged by the broker (acks=all), so the rate is alerts *on Kafka* per second; the
part then checks the topic holds exactly the alerts sent, none lost, none twice.

Alertmanager (Debian's package, when installed) gets the same batches from the same client, with
a receiver that notifies nowhere (ingest only: no webhook work in its figure), and its rate is
this part's ceiling (``ratio`` = alertstream / Alertmanager, both measured in this run). CPU
seconds of each server process over the timed phase give alerts per CPU-second, the fairer figure
on a shared machine. Each server runs on one core, the client (and the broker) on the others
(:mod:`.cpu_pinning`), as in the issue's comparison.

Figures: ``sequential_alerts_per_s``, ``concurrent_alerts_per_s``, ``*_request_p50_ms``/``p99``
(one batch, client-measured), ``alerts_per_cpu_s``, ``am_*`` the same for Alertmanager,
``published_exactly`` (the topic count matches). ``broker_ack_p50_ms`` is what a request of
``batch`` alerts waits for the broker alone in this run: the API's own publisher (same settings),
in this process, publishing records of the same size and spread over the partitions, one batch at
a time — the part of a sequential request that Alertmanager, which keeps alerts in memory, has not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import Consumer

from alertstream.api.keys import create_key
from alertstream.api.publisher import AlertPublisher
from alertstream.bench.alertmanager import Alertmanager, binary
from alertstream.bench.api import wait_ready
from alertstream.bench.cpu_pinning import one_server_core
from alertstream.bench.procstat import cpu_seconds
from alertstream.consumers.db import create_schema, drop_schema
from alertstream.local_stack import die_with_parent, free_port
from alertstream.runtime.kafka_clients import consumer_config
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas.config import load_config
from alertstream.schemas.topics import TopicNames

TENANT = "bench-ingest"


def batches(run: str, alerts: int, batch: int) -> list[bytes]:
    """``alerts`` distinct Prometheus alerts as JSON bodies of ``batch`` alerts each."""
    starts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    out = []
    for first in range(0, alerts, batch):
        body = [
            {
                "labels": {
                    "alertname": "IngestBench",
                    "instance": f"host-{n % 500}:9100",
                    "job": "node",
                    "severity": "warning",
                    "n": f"{run}-{n}",
                },
                "annotations": {"summary": f"bench alert {n}", "description": "disk filling up"},
                "startsAt": starts,
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            }
            for n in range(first, min(first + batch, alerts))
        ]
        out.append(json.dumps(body).encode())
    return out


async def _send(url: str, headers: dict[str, str], bodies: list[bytes], concurrency: int) -> list[float]:
    """POST every body with ``concurrency`` requests in flight; returns each request's ms."""
    latencies: list[float] = []
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers={"content-type": "application/json", **headers}, limits=limits) as client:

        async def lane() -> None:
            for body in queue:  # the lanes share one iterator: each body is sent once
                started = time.perf_counter()
                r = await client.post(url, content=body, timeout=60)
                if r.status_code != 200:
                    raise RuntimeError(f"{url} answered {r.status_code}: {r.text[:200]}")
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)


def _phases(
    prefix: str,
    url: str,
    headers: dict[str, str],
    make: Callable[[str], list[bytes]],
    batch: int,
    concurrency: int,
    pid: int,
) -> tuple[dict[str, Any], int]:
    """Warm up, then a sequential and a concurrent phase; figures and the number of alerts sent."""
    sent = 0
    warm = make("warm")[:20]
    asyncio.run(_send(url, headers, warm, 1))
    sent += sum(len(json.loads(b)) for b in warm)
    out: dict[str, Any] = {}
    cpu = 0.0
    for phase, lanes in (("sequential", 1), ("concurrent", concurrency)):
        bodies = make(phase)
        count = sum(len(json.loads(b)) for b in bodies)
        before = cpu_seconds(pid)
        started = time.perf_counter()
        latencies = asyncio.run(_send(url, headers, bodies, lanes))
        elapsed = time.perf_counter() - started
        used = cpu_seconds(pid) - before
        cpu += used
        sent += count
        out[f"{prefix}{phase}_alerts_per_s"] = round(count / elapsed, 1)
        out[f"{prefix}{phase}_request_p50_ms"] = _pct(latencies, 0.5)
        out[f"{prefix}{phase}_request_p99_ms"] = _pct(latencies, 0.99)
        out[f"{prefix}{phase}_server_cpu_s"] = round(used, 2)
        out[f"{prefix}{phase}_alerts_per_cpu_s"] = round(count / used, 1) if used else None
    out[f"{prefix}batch"] = batch
    return out, sent


def _on_topic(bootstrap: str, topic: str, expected: int, timeout: float = 120) -> tuple[int, int]:
    """(records, distinct keys) on ``topic``, read from the start until ``expected`` records were
    read and nothing more arrives for 2 s (or ``timeout``). Read, not counted from watermarks:
    tansu's ListOffsets(latest) answers the last batch's base offset + 1."""
    consumer = Consumer(consumer_config(bootstrap, f"bench-ingest-{uuid.uuid4().hex}"))
    records = 0
    keys: set[bytes] = set()
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.consume(10_000, 0.5)
            got = [m for m in batch if m.error() is None]
            if got:
                quiet_since = time.monotonic()
            records += len(got)
            keys.update(m.key() or b"" for m in got)
            if records >= expected and time.monotonic() - quiet_since > 2.0:
                break
    finally:
        consumer.close()
    return records, len(keys)


def broker_ack_ms(bootstrap: str, topic: str, batch: int, record_bytes: int, rounds: int = 120) -> float:
    """p50 ms the API's publisher waits for the broker to acknowledge ``batch`` records (distinct
    keys, so spread over the partitions as fingerprints are), after 20 warm-up rounds."""

    async def measure() -> list[float]:
        publisher = AlertPublisher(bootstrap, topic, 1_000_000)
        publisher.start()
        value = b"x" * record_bytes
        waits = []
        try:
            for n in range(rounds + 20):
                records = [(f"{n:016x}{i:016x}".encode(), value) for i in range(batch)]  # fingerprint-sized
                started = time.perf_counter()
                await publisher.publish(records)
                waits.append((time.perf_counter() - started) * 1000)
        finally:
            await publisher.close()
        return waits[20:]

    return _pct(asyncio.run(measure()), 0.5)


def run_ingest_bench(
    bootstrap: str, database_url: str, alerts: int = 50_000, batch: int = 100, concurrency: int = 4
) -> dict[str, Any]:
    schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    dsn = create_schema(database_url, schema)
    topics = TopicNames(f"benchingest{uuid.uuid4().hex[:6]}.")
    create_topics(bootstrap, load_config(None), topics)
    proc: subprocess.Popen[bytes] | None = None
    run = uuid.uuid4().hex[:6]
    pinning = one_server_core()
    client_side = pinning.client_side if pinning is not None else contextlib.nullcontext
    try:
        key = create_key(dsn, TENANT, "bench ingest").key
        port = free_port()
        env = {
            **os.environ,
            "ALERTSTREAM_DATABASE_URL": dsn,
            "ALERTSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "ALERTSTREAM_TOPIC_PREFIX": topics.prefix,
            "ALERTSTREAM_API_HOST": "127.0.0.1",
            "ALERTSTREAM_API_PORT": str(port),
            "ALERTSTREAM_API_RATE_LIMIT": "100000",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "alertstream", "api"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=pinning.preexec(die_with_parent(signal.SIGTERM))
            if pinning is not None
            else die_with_parent(signal.SIGTERM),
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        with client_side():
            figures, sent = _phases(
                "",
                f"{base}/api/v2/alerts",
                {"Authorization": f"Bearer {key}"},
                lambda phase: batches(f"{run}{phase}", alerts, batch),
                batch,
                concurrency,
                proc.pid,
            )
        ack_topics = TopicNames(f"{topics.prefix}ack.")  # the same partitions as events.alerts, apart from it
        create_topics(bootstrap, load_config(None), ack_topics)
        with client_side():
            figures["broker_ack_p50_ms"] = broker_ack_ms(bootstrap, ack_topics.events_alerts, batch, 200)
        records, distinct = _on_topic(bootstrap, topics.events_alerts, sent)
        figures["alerts_sent"] = sent
        figures["published_exactly"] = records == distinct == sent
        if not figures["published_exactly"]:
            raise RuntimeError(
                f"{records} records ({distinct} fingerprints) on {topics.events_alerts} for {sent} alerts acknowledged"
            )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        drop_schema(database_url, schema)
    path = binary()
    if path is not None:
        am = Alertmanager(path, None, pinning)
        try:
            with client_side():
                theirs, _ = _phases(
                    "am_",
                    f"http://127.0.0.1:{am.port}/api/v2/alerts",
                    {},
                    lambda phase: batches(f"{run}am{phase}", alerts, batch),
                    batch,
                    concurrency,
                    am.proc.pid,
                )
        finally:
            am.stop()
        figures.update(theirs)
        figures["ceiling"] = "am_sequential_alerts_per_s"
    figures["alerts_per_phase"] = alerts
    figures["server_cpus"] = sorted(pinning.server) if pinning is not None else "unpinned"
    figures["concurrency"] = concurrency
    return figures
