"""Delivery benchmark (plugged into `alertstream bench` as the ``delivery`` part).

Figures, all against a local HTTP sink running in its own process:

* ``raw_posts_per_s`` (the ceiling): raw signed POSTs through the channels' own client path
  (``HttpClients.post``: pyreqwest, SSRF-checked and pinned), on the deliver process's loop.
* ``posts_aiohttp_per_s``: the same through the aiohttp path (``HttpClients("aiohttp").post``),
  with ``*_cpu_us_per_post`` for both: why the channels use pyreqwest.
* ``transport_httpx_req_per_s`` / ``transport_aiohttp_req_per_s``: the same POSTs through httpx's
  transport API, with httpx's default transport vs the aiohttp one (same sink, same concurrency).
* ``webhook_deliveries_per_s``: one `deliver webhook` process (in this process) draining a
  backlog of alerts from `alerts` to the sink: decode, ledger check, sign, POST, ledger insert,
  outcome record, offset commit.
* ``latency_p50_ms`` / ``latency_p99_ms`` at ``latency_offered_per_s`` (500/s by default): alert
  ``emitted_at`` (set when it is produced) to the sink receiving the POST.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

import httpx
from confluent_kafka import Producer

from alertstream.bench.sink import Sink
from alertstream.consumers.channels import build_channel
from alertstream.consumers.db import create_schema, drop_schema
from alertstream.consumers.deliver import DeliveryService
from alertstream.runtime import event_loop
from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas.codec import ALERT, Codec
from alertstream.schemas.config import AlertstreamConfig, load_config, parse_config
from alertstream.schemas.topics import TopicNames


def _alert(i: int, emitted_ms: int) -> dict[str, Any]:
    return {
        "alert_id": f"bench-{uuid.uuid4().hex}",
        "tenant": "bench",
        "rule_id": "cpu-high",
        "rule_version": 1,
        "status": "firing",
        "severity": "warning",
        "fingerprint": f"fp-{i % 5000}",
        "entity": f"host-{i % 100}",
        "summary": "CPU above 90% on host",
        "details": '{"value": 97.5, "threshold": 90}',
        "labels": {"env": "bench"},
        "value": 97.5,
        "threshold": 90.0,
        "occurrence_count": 1,
        "suppressed_count": 0,
        "first_seen": emitted_ms,
        "last_seen": emitted_ms,
        "emitted_at": emitted_ms,
        "event_ids": [f"e{i}"],
        "routes": [{"receiver": "bench", "channel": "webhook"}],
        "rate_limited": False,
    }


async def _transport_rate(
    transport: str, port: int, requests: int, concurrency: int, direct: bool = False, cpu: list[float] | None = None
) -> float:
    """Signed POSTs of one alert body to the sink: through httpx's transport API (``direct``
    False: httpx's own transport or the aiohttp one), or the channels' path (``HttpClients.post``);
    ``cpu`` gets this process's CPU µs per POST."""
    from alertstream.consumers.http import HttpClients
    from alertstream.consumers.signing import SigningSecret, sign_headers

    clients = HttpClients(transport)
    secret = [SigningSecret(b"0123456789abcdef0123456789abcdef")]
    body = json.dumps(_alert(0, 0)).encode()
    url = f"http://127.0.0.1:{port}/raw"
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            headers = sign_headers(f"msg_{i}", int(time.time()), body, secret)
            headers = {"content-type": "application/json", "user-agent": "alertstream/0.1", **headers}
            if direct:
                status = (await clients.post(url, body, headers, True, 2.0, 5.0)).status_code
            else:
                status = (
                    await clients.send(httpx.Request("POST", url, content=body, headers=headers), True)
                ).status_code
            assert status == 200

    await asyncio.gather(*(one(i) for i in range(50)))  # warm up connections
    started, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(requests)))
    rate = requests / (time.perf_counter() - started)
    if cpu is not None:
        cpu.append(1e6 * (time.process_time() - cpu0) / requests)
    await clients.aclose()
    return rate


def _config(port: int) -> AlertstreamConfig:
    base = load_config(None)
    receivers = [{"name": "bench", "channel": "webhook", "url": f"http://127.0.0.1:{port}/hook", "allow_private": True}]
    return parse_config(
        {
            "receivers": receivers,
            "delivery": {"retry_delays_seconds": list(base.delivery.retry_delays_seconds)},
        },
        "bench",
    )


async def _wait(pred: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.05)
    return bool(pred())


def run_delivery_bench(
    bootstrap: str,
    database_url: str,
    deliveries: int = 20_000,
    latency_rate_per_s: int = 500,
    latency_seconds: float = 10.0,
    transport_requests: int = 5_000,
) -> dict[str, Any]:
    sink = Sink()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = create_schema(database_url, schema)
    topics = TopicNames(f"dbench{uuid.uuid4().hex[:6]}.")
    config = _config(sink.port)
    create_topics(bootstrap, load_config(None), topics)
    # The bound of a delivery process is HTTP, not Kafka: ratios are taken against raw signed POSTs
    # through the very client path the channels use, on the same event loop the deliver process runs.
    out: dict[str, Any] = {"ceiling": "raw_posts_per_s"}
    try:
        out["transport_httpx_req_per_s"] = round(
            asyncio.run(_transport_rate("httpx", sink.port, transport_requests, 100)), 1
        )
        out["transport_aiohttp_req_per_s"] = round(
            asyncio.run(_transport_rate("aiohttp", sink.port, transport_requests, 100)), 1
        )
        for name, transport in (("raw_posts", "reqwest"), ("posts_aiohttp", "aiohttp")):
            cpu: list[float] = []
            rate = event_loop.run(_transport_rate(transport, sink.port, transport_requests, 100, True, cpu))
            out[f"{name}_per_s"], out[f"{name}_cpu_us_per_post"] = round(rate, 1), round(cpu[0], 1)
        sink.ask("reset")
        out.update(
            event_loop.run(
                _pipeline(bootstrap, dsn, topics, config, sink, deliveries, latency_rate_per_s, latency_seconds)
            )
        )
    finally:
        sink.close()
        drop_schema(database_url, schema)
    return out


async def _pipeline(
    bootstrap: str,
    dsn: str,
    topics: TopicNames,
    config: AlertstreamConfig,
    sink: Sink,
    deliveries: int,
    rate: int,
    seconds: float,
) -> dict[str, Any]:
    codec = Codec()
    producer = Producer(producer_config(bootstrap))
    now = int(time.time() * 1000)
    for i in range(deliveries):
        a = _alert(i, now)
        producer.produce(topics.alerts, key=a["fingerprint"].encode(), value=codec.encode(ALERT, a))
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)
    service = DeliveryService(
        "webhook", build_channel("webhook", config), config, bootstrap, dsn, topics, codec=Codec()
    )
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    result: dict[str, Any] = {"webhook_deliveries": deliveries}
    try:
        # throughput: from the first delivery to the last of the backlog
        assert await _wait(lambda: service.stats.sent > 0, 60), "no delivery within 60 s"
        first_at, first_count, cpu0 = time.perf_counter(), service.stats.sent, time.process_time()
        assert await _wait(lambda: service.stats.sent >= deliveries, 300), "backlog not drained"
        result["webhook_deliveries_per_s"] = round((deliveries - first_count) / (time.perf_counter() - first_at), 1)
        # per CPU-second of this process (the sink, broker and database run elsewhere): what one
        # dedicated core would do on this machine
        cpu = time.process_time() - cpu0
        result["webhook_deliveries_per_cpu_s"] = round((deliveries - first_count) / cpu, 1) if cpu else None
        result["sink_distinct_ids"] = int(sink.stats("/hook")["distinct"])
        sink.ask("reset")
        # latency at a fixed offered rate
        sent_before = service.stats.sent
        total = int(rate * seconds)
        produce_done = threading.Event()

        def paced() -> None:
            start = time.perf_counter()
            for i in range(total):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                a = _alert(i, int(time.time() * 1000))
                producer.produce(topics.alerts, key=a["fingerprint"].encode(), value=codec.encode(ALERT, a))
                producer.poll(0)
            producer.flush(30)
            produce_done.set()

        thread = threading.Thread(target=paced, daemon=True)
        thread.start()
        await asyncio.to_thread(thread.join)
        assert await _wait(lambda: service.stats.sent >= sent_before + total, 60), "paced alerts not delivered"
        latencies = sorted(sink.ask("latencies /hook"))
        result["latency_offered_per_s"] = rate
        result["latency_alerts"] = len(latencies)
        result["latency_p50_ms"] = round(latencies[len(latencies) // 2], 2)
        result["latency_p99_ms"] = round(latencies[int(len(latencies) * 0.99) - 1], 2)
        result["latency_max_ms"] = round(latencies[-1], 2)
        result["ledger_lookup_queries"] = service.ledger.lookups.calls
        result["ledger_insert_queries"] = service.ledger.inserts.calls
        result["retried"] = service.stats.retried
        # tasks put back on a retry tier because the receiver's lane was full (a backlog above
        # the park limit, 10,000 per receiver): each costs a produce, an outcome and a re-read
        result["deferred"] = service.stats.deferred
        result["dead_lettered"] = service.stats.dead_lettered
    finally:
        stop.set()
        await task
    return result
