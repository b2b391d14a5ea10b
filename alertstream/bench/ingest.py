"""Ingest benchmark (the ``api-ingest`` part of `alertstream bench`): ``POST /api/v2/alerts``, the
endpoint Prometheus sends its alerts to, against Prometheus Alertmanager in the same run.

`alertstream api` runs as its own process (as deployed: one uvicorn process, one core at most)
with a broker and a fresh database schema. The client sends prebuilt batches of ``batch`` alerts
(Prometheus' payload shape, distinct label sets) on keep-alive connections: ``sequential`` is one
request at a time (as one Prometheus sends to one Alertmanager), ``concurrent`` keeps
``concurrency`` requests in flight (several Prometheus servers). A 200 means every alert of the
batch is acknowledged by the broker (acks=all), so the rate is alerts *on Kafka* per second; the
part then checks the topic holds exactly the alerts sent, none lost, none twice.

Alertmanager (Debian's package, when installed) runs beside it and gets the same batches from
the same client, with a receiver that notifies nowhere (ingest only: no webhook work in its
figure); its rate is this part's ceiling (``ratio`` = alertstream / Alertmanager). The two take
turns: each phase is :data:`ROUNDS` rounds, each server in each round (the order alternating), and
each figure is the median over the rounds, so a noisy minute of a shared machine falls on both
(``*_ratio_by_round`` keeps the ratio of each round). CPU seconds of each server process over a
round give alerts per CPU-second, the fairer figure on a shared machine. Each server runs on one
core, the client (and the broker) on the others (:mod:`.cpu_pinning`), as in the issue's comparison.

Figures: ``sequential_alerts_per_s``, ``concurrent_alerts_per_s``, ``*_request_p50_ms``/``p99``
(one batch, client-measured), ``alerts_per_cpu_s``, ``am_*`` the same for Alertmanager,
``published_exactly`` (the topic count matches). ``broker_ack_p50_ms`` is what a request of
``batch`` alerts waits for the broker alone in this run: the API's own publisher (same settings),
in this process but on the server's core, publishing records of the same size and spread over the
partitions, one batch at a time — the part of a sequential request that Alertmanager, which
keeps alerts in memory, has not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
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
#: Rounds per phase, the servers taking turns (see :func:`_interleaved`).
ROUNDS = 3


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


@dataclass
class Server:
    """One server under test: where to POST, as whom, and its process (for its CPU)."""

    prefix: str  # "" for alertstream, "am_" for Alertmanager
    url: str
    headers: dict[str, str]
    pid: int
    sent: int = 0


def _phase(server: Server, bodies: list[bytes], lanes: int) -> dict[str, float]:
    """One timed phase: rate, client-measured request p50/p99, the server's CPU."""
    count = sum(len(json.loads(b)) for b in bodies)
    before = cpu_seconds(server.pid)
    started = time.perf_counter()
    latencies = asyncio.run(_send(server.url, server.headers, bodies, lanes))
    elapsed = time.perf_counter() - started
    used = cpu_seconds(server.pid) - before
    server.sent += count
    return {
        "alerts_per_s": count / elapsed,
        "request_p50_ms": _pct(latencies, 0.5),
        "request_p99_ms": _pct(latencies, 0.99),
        "server_cpu_s": used,
        "alerts_per_cpu_s": count / used if used else 0.0,
    }


def _interleaved(
    servers: list[Server], run: str, alerts: int, batch: int, concurrency: int, rounds: int = ROUNDS
) -> dict[str, Any]:
    """Each phase as ``rounds`` rounds of ``alerts / rounds`` alerts, the servers taking turns
    (the order alternating by round), so each ratio compares the same minutes of a shared
    machine; each figure is the median over the rounds, and ``*_ratio_by_round`` keeps the
    per-round ratios of alertstream to Alertmanager."""
    for server in servers:  # warm-up: connections, first-request paths
        warm = batches(f"{run}{server.prefix}warm", min(2_000, max(batch, alerts // 10)), batch)
        _phase(server, warm, 1)
    out: dict[str, Any] = {}
    per_round = max(batch, alerts // rounds)
    for phase, lanes in (("sequential", 1), ("concurrent", concurrency)):
        got: dict[str, list[dict[str, float]]] = {s.prefix: [] for s in servers}
        for n in range(rounds):
            for server in servers if n % 2 == 0 else servers[::-1]:
                bodies = batches(f"{run}{server.prefix}{phase}{n}", per_round, batch)
                got[server.prefix].append(_phase(server, bodies, lanes))
        for prefix, figures in got.items():
            for name in figures[0]:
                value = statistics.median(f[name] for f in figures)
                out[f"{prefix}{phase}_{name}"] = round(value, 2)
        if len(got) == 2:
            ours, theirs = got[""], got["am_"]
            out[f"{phase}_ratio_by_round"] = [
                round(a["alerts_per_s"] / b["alerts_per_s"], 3) for a, b in zip(ours, theirs, strict=True)
            ]
    out["rounds"] = rounds
    out["alerts_per_round"] = per_round
    return out


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
    am: Alertmanager | None = None
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
        servers = [Server("", f"{base}/api/v2/alerts", {"Authorization": f"Bearer {key}"}, proc.pid)]
        path = binary()
        if path is not None:
            # a receiver that notifies nowhere: intake only, as alertstream's figure
            am = Alertmanager(path, None, pinning)
            servers.append(Server("am_", f"http://127.0.0.1:{am.port}/api/v2/alerts", {}, am.proc.pid))
        with client_side():
            figures = _interleaved(servers, run, alerts, batch, concurrency)
        ack_topics = TopicNames(f"{topics.prefix}ack.")  # the same partitions as events.alerts, apart from it
        create_topics(bootstrap, load_config(None), ack_topics)
        # on the server's core, as the API's publisher runs (its librdkafka threads start pinned too)
        with pinning.server_side() if pinning is not None else contextlib.nullcontext():
            figures["broker_ack_p50_ms"] = broker_ack_ms(bootstrap, ack_topics.events_alerts, batch, 200)
        sent = servers[0].sent
        records, distinct = _on_topic(bootstrap, topics.events_alerts, sent)
        figures["alerts_sent"] = sent
        figures["published_exactly"] = records == distinct == sent
        if not figures["published_exactly"]:
            raise RuntimeError(
                f"{records} records ({distinct} fingerprints) on {topics.events_alerts} for {sent} alerts acknowledged"
            )
        if am is not None:
            figures["ceiling"] = "am_sequential_alerts_per_s"
    finally:
        if am is not None:
            am.stop()
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        drop_schema(database_url, schema)
    figures["batch"] = batch
    figures["alerts_per_phase"] = alerts
    figures["server_cpus"] = sorted(pinning.server) if pinning is not None else "unpinned"
    figures["concurrency"] = concurrency
    return figures
