"""Test helpers: a real `alertstream worker` process, event scripts and alert tallies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer

from alertstream.bench.evaluator import consumed
from alertstream.local_stack import free_port
from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.metrics import scrape
from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.events import DriftEvent, MetricEvent
from tests.kafka_reader import read_topic

CODEC = Codec()
#: Never matched by a rule: used to see that a worker is consuming without creating state.
WARMUP_METRIC = "warmup_probe"


def write_config(path: Path, rules: list[dict[str, Any]], version: int = 1, **extra: Any) -> Path:
    path.write_text(yaml.safe_dump({"version": version, "rules": rules, **extra}))
    return path


class WorkerProcess:
    """One `python -m alertstream worker` process for a test's settings (topic prefix)."""

    def __init__(
        self, settings: Settings, config: Path, *, publish_config: bool = True, log: Path | None = None
    ) -> None:
        self.settings = settings
        self.port = free_port()
        env = {
            **os.environ,
            "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.require_bootstrap(),
            "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "ALERTSTREAM_CONFIG": str(config),
            "ALERTSTREAM_METRICS_PORT": str(self.port),
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


def publish(settings: Settings, events: Iterable[MetricEvent | DriftEvent | tuple[str, bytes | None, bytes]]) -> int:
    """Encode and publish events in order (or raw (topic, key, value) triples); returns the count."""
    producer = Producer(producer_config(settings.require_bootstrap()))
    topics = settings.topics
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
                producer.produce(topic, key=key, value=value)
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


def tally(alerts: Iterable[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((a["fingerprint"], a["status"], a["severity"]) for a in alerts)
