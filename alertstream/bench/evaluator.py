"""The evaluator part of `alertstream bench`: one real `alertstream worker` process, measured.

* **Throughput**: ``events`` demo metric events are published *before* the worker starts; the
  worker process drains the backlog and we time it from its first to its last consumed event,
  read from its own ``/metrics`` (``alertstream_events_consumed_total``) — the figure is events/s
  per worker process, start-up and group join excluded.
* **Latency**: then a paced stream of probe events, each breaching a rule on a fresh fingerprint
  (so every one must become an alert at once), is published; p50/p99 of *alert readable on
  ``alerts``* minus *event ``occurred_at``* (set when the probe is produced) is event→alert latency.
* **CPU**: the worker's CPU-seconds (from /proc) over the same first-to-last window, per event
  (``worker_cpu_us_per_event``) — far less sensitive to the other load on a shared machine than
  wall time. Then a second backlog where every event breaches a rule on a fresh fingerprint (each
  must become one alert): the worker's CPU per emitted alert (``fire_cpu_us_per_alert``).
* **Ceiling**: a raw confluent-kafka consume→produce passthrough of the same backlog on the same
  broker in the same run; throughput is reported as a ratio to it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

from alertstream.bench.harness import produce_batch
from alertstream.bench.procstat import cpu_seconds
from alertstream.local_stack import free_port
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.runtime.metrics import scrape
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import EXAMPLE_CONFIG, load_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.topics import TopicNames

PROBE_METRIC = "bench_probe"
#: Events of the fire-every-time backlog (each on a fresh fingerprint, each one alert).
FIRE_EVENTS = 10_000


def consumed(port: int, metric: str = "alertstream_events_consumed_total") -> float:
    """Sum of a counter (default: events consumed) scraped from the worker (-1 if not up yet)."""
    samples = scrape(port, metric)
    return -1.0 if samples is None else sum(value for _, value in samples)


def bench_config(path: Path) -> None:
    """The example config plus a probe rule that fires on the first breaching event."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["rules"].append({"id": "bench-probe", "metric": PROBE_METRIC, "operator": ">", "critical": 0})
    data["rate_limits"] = {"window_seconds": 60}
    path.write_text(yaml.safe_dump(data))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_evaluator_bench(
    bootstrap: str, events: int, probes: int = 1000, probe_rate: float = 500.0, timeout: float = 180.0
) -> dict[str, Any]:
    """Run the benchmark on ``bootstrap``; returns flat figures (``*_per_s``, ``*_ms``, ``*_mb``)."""
    from alertstream.bench.harness import encoded_metric_events, passthrough_ceiling

    topics = TopicNames(f"evb{uuid.uuid4().hex[:6]}.")
    create_topics(bootstrap, load_config(None), topics)
    backlog = encoded_metric_events(events)
    produce_batch(bootstrap, topics.events_metric, backlog)
    ceiling = passthrough_ceiling(bootstrap, topics.events_metric, topics.name("bench.passthrough"), events)

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "bench-config.yaml"
        bench_config(config_path)
        env = {
            **os.environ,
            "ALERTSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "ALERTSTREAM_TOPIC_PREFIX": topics.prefix,
            "ALERTSTREAM_CONFIG": str(config_path),
            "ALERTSTREAM_METRICS_PORT": str(port),
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "alertstream", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            rate, cpu_per_event, rss = _drain(worker, port, events, timeout)
            # latency before the fire-all burst: the worker is still writing that burst's state
            # for seconds after its last alert, and the probes would measure that queue
            latencies = _latency(bootstrap, topics, probes, probe_rate, timeout)
            cpu_per_alert = _fire_all(bootstrap, topics, worker, port, FIRE_EVENTS, timeout)
        finally:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    return {
        "events": events,
        "worker_events_per_s": round(rate, 1),
        # The ceiling this part's ratio is taken against: the passthrough of this same backlog.
        "ceiling": "passthrough_events_per_s",
        "passthrough_events_per_s": round(ceiling, 1),
        "worker_cpu_us_per_event": round(cpu_per_event * 1e6, 2),
        "fire_alerts": FIRE_EVENTS,
        "fire_cpu_us_per_alert": round(cpu_per_alert * 1e6, 2),
        "event_to_alert_p50_ms": round(_percentile(latencies, 0.50), 2),
        "event_to_alert_p99_ms": round(_percentile(latencies, 0.99), 2),
        "event_to_alert_mean_ms": round(statistics.fmean(latencies), 2),
        "probes": len(latencies),
        "probe_offered_per_s": probe_rate,
        "worker_rss_mb": rss,
    }


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _drain(worker: subprocess.Popen[bytes], port: int, events: int, timeout: float) -> tuple[float, float, float]:
    """Wait for the worker to consume the backlog; (events/s from first to last consumed, CPU
    seconds per event over the same window, RSS MB)."""
    deadline = time.monotonic() + timeout
    start: float | None = None
    start_count = start_cpu = 0.0
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.returncode}")
        count = consumed(port)
        now = time.perf_counter()
        if count > 0 and start is None:
            start, start_count, start_cpu = now, count, cpu_seconds(worker.pid)
        if count >= events and start is not None:
            # the first scrape saw start_count already consumed: extrapolate the start back
            elapsed = now - start
            moved = count - start_count
            rate = moved / elapsed if elapsed > 0 and moved > 0 else float(count)
            cpu = (cpu_seconds(worker.pid) - start_cpu) / moved if moved > 0 else float("nan")
            return rate, cpu, _rss_mb(worker.pid)
        time.sleep(0.05)
    raise RuntimeError("worker did not drain the backlog in time")


def _fire_all(
    bootstrap: str, topics: TopicNames, worker: subprocess.Popen[bytes], port: int, count: int, timeout: float
) -> float:
    """``count`` events each breaching the probe rule on a fresh fingerprint, produced at once to
    the running worker; its CPU seconds per alert emitted (all of them must be)."""
    codec = Codec()
    run = uuid.uuid4().hex[:6]
    now_ms = int(time.time() * 1000)
    messages = []
    for i in range(count):
        event = MetricEvent(f"f{run}{i}", "bench", PROBE_METRIC, 1.0, f"fire-{run}-{i}", now_ms)
        messages.append((event.key(), codec.encode(c.METRIC_EVENT, event.to_record())))
    emitted = "alertstream_alerts_emitted_total"
    before_alerts = max(consumed(port, emitted), 0.0)
    before = cpu_seconds(worker.pid)
    produce_batch(bootstrap, topics.events_metric, messages)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.returncode}")
        alerts = consumed(port, emitted) - before_alerts
        if alerts >= count:
            return (cpu_seconds(worker.pid) - before) / alerts
        time.sleep(0.05)
    raise RuntimeError("the worker did not emit an alert for every fire-all event in time")


def _latency(bootstrap: str, topics: TopicNames, probes: int, rate: float, timeout: float) -> list[float]:
    """Publish paced probes on fresh fingerprints; ms from occurred_at to the alert being readable."""
    codec = Codec()
    consumer = Consumer(consumer_config(bootstrap, f"bench-latency-{uuid.uuid4().hex}", **{"fetch.wait.max.ms": 5}))
    meta = consumer.list_topics(topics.alerts, timeout=10)
    consumer.assign([TopicPartition(topics.alerts, p, OFFSET_END) for p in meta.topics[topics.alerts].partitions])
    consumer.consume(1000, 1.0)  # settle the assignment at the end of the topic
    producer = Producer(producer_config(bootstrap, **{"linger.ms": 0}))
    # connect + idempotent-producer init take ~0.5 s on the local broker: not part of the latency
    warm = MetricEvent("warm", "bench", "bench_warmup", 0.0, "warm", int(time.time() * 1000))
    producer.produce(topics.events_metric, key=warm.key(), value=codec.encode(c.METRIC_EVENT, warm.to_record()))
    producer.flush(30)
    run = uuid.uuid4().hex[:6]
    sent: dict[str, float] = {}
    latencies: list[float] = []
    interval = 1.0 / rate
    next_at = time.perf_counter()

    def collect(wait: float) -> None:
        for msg in consumer.consume(1000, wait):
            value = msg.value()
            if msg.error() is not None or value is None:
                continue
            alert = codec.decode(value, c.ALERT)
            if alert["rule_id"] == "bench-probe" and alert["entity"] in sent:
                latencies.append(time.time() * 1000 - sent.pop(alert["entity"]))

    for i in range(probes):
        source = f"probe-{run}-{i}"
        now_ms = time.time() * 1000
        event = MetricEvent(f"p{run}{i}", "bench", PROBE_METRIC, 1.0, source, int(now_ms))
        sent[source] = now_ms
        producer.produce(topics.events_metric, key=event.key(), value=codec.encode(c.METRIC_EVENT, event.to_record()))
        producer.poll(0)
        next_at += interval
        collect(0)
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    producer.flush(30)
    deadline = time.monotonic() + timeout
    while sent and time.monotonic() < deadline:
        collect(0.002)  # consume() waits for the full timeout unless 1000 arrive: keep it short
    consumer.close()
    if sent:
        raise RuntimeError(f"{len(sent)} of {probes} probes produced no alert")
    return latencies
