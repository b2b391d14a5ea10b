"""Test helpers: a real `alertstream worker` process, event scripts and alert tallies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from alertstream.bench.evaluator import consumed
from alertstream.local_stack import free_port
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.runtime.metrics import scrape
from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.events import DriftEvent, MetricEvent
from tests.kafka_reader import Record, read_topic

CODEC = Codec()
#: Never matched by a rule: used to see that a worker is consuming without creating state.
WARMUP_METRIC = "warmup_probe"
#: Every test config carries this rule: one sentinel event per input partition, published after a
#: test's events, fires one critical alert each — the positive marker that everything before it on
#: that partition has been evaluated (see :func:`settled_alerts`).
SENTINEL_METRIC = "sentinel_probe"
SENTINEL_RULE = {"id": "sentinel", "metric": SENTINEL_METRIC, "operator": ">", "critical": 0}
PARTITIONS = 6


def write_config(path: Path, rules: list[dict[str, Any]], version: int = 1, **extra: Any) -> Path:
    path.write_text(yaml.safe_dump({"version": version, "rules": [*rules, SENTINEL_RULE], **extra}))
    return path


class WorkerProcess:
    """One `python -m alertstream worker` process for a test's settings (topic prefix)."""

    def __init__(
        self,
        settings: Settings,
        config: Path,
        *,
        publish_config: bool = True,
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.port = free_port()
        env = {
            **os.environ,
            "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.require_bootstrap(),
            "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "ALERTSTREAM_CONFIG": str(config),
            "ALERTSTREAM_METRICS_PORT": str(self.port),
            **(env or {}),
        }
        args = [sys.executable, "-m", "alertstream", "worker"]
        if not publish_config:
            args.append("--no-publish-config")
        self.log = log or config.with_suffix(f".worker-{self.port}.log")
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def consumed(self) -> float:
        return consumed(self.port)

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the worker's /metrics (0 when absent)."""
        samples = scrape(self.port, name, timeout=2)
        assert samples is not None, "worker /metrics not answering"
        return next((value for got, value in samples if got == labels), 0.0)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_consumed(self, count: float, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive(), f"worker exited with {self.proc.returncode}; log: {self.log.read_text()[-3000:]}"
            if self.consumed() >= count:
                return
            time.sleep(0.1)
        raise AssertionError(f"worker consumed {self.consumed()} < {count} in {timeout}s")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


Raw = tuple[str, bytes | None, bytes]


def start_worker(workers: list[WorkerProcess], settings: Settings, config: Path, **kw: Any) -> WorkerProcess:
    """Start a worker process and register it with the ``workers`` fixture (stopped after the test)."""
    w = WorkerProcess(settings, config, **kw)
    workers.append(w)
    return w


def publish(
    settings: Settings,
    events: Iterable[MetricEvent | DriftEvent | Raw],
    *,
    partition: int | None = None,
    max_message_bytes: int | None = None,
) -> int:
    """Encode and publish events in order (or raw (topic, key, value) triples); returns the count.

    ``partition`` pins every message to one partition; ``max_message_bytes`` lets this producer
    send records larger than a stock producer would (what a misbehaving producer does)."""
    producer = Producer(producer_config(settings.require_bootstrap(), max_message_bytes=max_message_bytes))
    topics = settings.topics
    where = {} if partition is None else {"partition": partition}
    n = 0
    for item in events:
        if isinstance(item, tuple):
            topic, key, value = item
        elif isinstance(item, MetricEvent):
            topic, key, value = topics.events_metric, item.key(), CODEC.encode(c.METRIC_EVENT, item.to_record())
        else:
            topic, key, value = topics.events_drift, item.key(), CODEC.encode(c.DRIFT_EVENT, item.to_record())
        while True:
            try:
                producer.produce(topic, key=key, value=value, **where)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
    assert producer.flush(60) == 0
    return n


def warm_up(settings: Settings, *workers: WorkerProcess, timeout: float = 90) -> None:
    """Publish rule-less events to every partition until each worker has consumed some."""
    producer = Producer(producer_config(settings.require_bootstrap()))
    deadline = time.monotonic() + timeout
    i = 0
    while time.monotonic() < deadline:
        for p in range(6):
            event = MetricEvent(f"w{i}-{p}", "warmup", WARMUP_METRIC, 0.0, f"w{p}", int(time.time() * 1000))
            producer.produce(
                settings.topics.events_metric,
                key=event.key(),
                value=CODEC.encode(c.METRIC_EVENT, event.to_record()),
                partition=p,
            )
        producer.flush(10)
        i += 1
        time.sleep(0.5)
        if all(w.consumed() > 0 for w in workers):
            return
        for w in workers:
            assert w.alive(), f"worker exited: {w.log.read_text()[-3000:]}"
    raise AssertionError("workers did not start consuming")


def read_alerts(settings: Settings, expected: int, timeout: float = 60, settle: float = 3.0) -> list[dict[str, Any]]:
    records = read_topic(settings.require_bootstrap(), settings.topics.alerts, expected, timeout=timeout, settle=settle)
    out = []
    for r in records:
        alert = CODEC.decode(r.value, c.ALERT)
        assert r.key == alert["fingerprint"].encode()
        out.append(alert)
    return out


def emitted(*workers: WorkerProcess) -> int:
    """Alerts the live ``workers`` have sent (their ``alertstream_alerts_emitted_total``, summed)."""
    total = 0.0
    for w in workers:
        samples = scrape(w.port, "alertstream_alerts_emitted_total", timeout=2)
        assert samples is not None, "worker /metrics not answering"
        total += sum(value for _, value in samples)
    return int(total)


def settled_alerts(
    settings: Settings, *workers: WorkerProcess, before: int = 0, timeout: float = 90
) -> list[dict[str, Any]]:
    """Every alert on ``alerts`` once the workers have evaluated everything published so far.

    No fixed window: one sentinel event per input partition goes out after the test's events, and
    once every sentinel's alert is readable, every earlier event has been evaluated (a partition is
    evaluated in order and a batch's alerts are acknowledged before the next batch). Then the
    workers' own emitted counters say exactly how many alerts exist (plus ``before``: alerts of
    processes no longer running); exactly that many are read, and an extra one would make the
    counter exceed the caller's expectation. Sentinel alerts are left out of the result.
    """
    tag = uuid.uuid4().hex[:8]
    producer = Producer(producer_config(settings.require_bootstrap()))
    now = int(time.time() * 1000)
    sources = [f"sentinel-{tag}-{p}" for p in range(PARTITIONS)]
    for p in range(PARTITIONS):
        event = MetricEvent(f"sentinel-{tag}-{p}", "sentinel", SENTINEL_METRIC, 1.0, f"sentinel-{tag}-{p}", now)
        value = CODEC.encode(c.METRIC_EVENT, event.to_record())
        producer.produce(settings.topics.events_metric, key=event.key(), value=value, partition=p)
    assert producer.flush(30) == 0

    missing = set(sources)
    looked_at = 0

    def all_sentinels(records: list[Record]) -> bool:
        nonlocal looked_at
        for w in workers:
            assert w.alive(), f"worker exited with {w.proc.returncode}; log: {w.log.read_text()[-3000:]}"
        missing.difference_update(
            a["entity"] for a in _decode_alerts(records[looked_at:]) if a["rule_id"] == "sentinel"
        )
        looked_at = len(records)
        return not missing

    read_until(settings.require_bootstrap(), settings.topics.alerts, all_sentinels, timeout)
    total = before + emitted(*workers)
    alerts = read_alerts(settings, total, timeout=timeout, settle=0)
    assert len(alerts) == total, f"{len(alerts)} alerts on the topic, the workers emitted {total}"
    return [a for a in alerts if a["rule_id"] != "sentinel"]


def _decode_alerts(records: Iterable[Record]) -> list[dict[str, Any]]:
    return [CODEC.decode(r.value, c.ALERT) for r in records]


def read_until(bootstrap: str, topic: str, done: Callable[[list[Record]], bool], timeout: float) -> list[Record]:
    """Every record of ``topic`` from the start, read until ``done(records)`` holds (or fail)."""
    consumer = Consumer(consumer_config(bootstrap, f"test-reader-{uuid.uuid4().hex}"))
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while not done(out):
            assert time.monotonic() < deadline, f"{topic}: condition not met in {timeout}s ({len(out)} records)"
            for msg in consumer.consume(5000, 0.2):
                if msg.error() is None:
                    headers = {k: v or b"" for k, v in (msg.headers() or [])}
                    out.append(
                        Record(
                            msg.topic() or "",
                            msg.partition() or 0,
                            msg.offset() or 0,
                            msg.key(),
                            msg.value() or b"",
                            headers,
                        )
                    )
    finally:
        consumer.close()
    return out


def committed_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The worker group's committed offset per partition of ``topic`` (-1001 = none)."""
    group = f"alertstream-worker-{settings.topic_prefix.strip('.') or 'default'}"
    consumer = Consumer(consumer_config(settings.require_bootstrap(), group))
    try:
        parts = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in parts}


def tally(alerts: Iterable[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((a["fingerprint"], a["status"], a["severity"]) for a in alerts)
