"""The state part of `alertstream bench`: the worker's memory per live fingerprint, and its restart.

One real `alertstream worker` process (subprocess, its own metrics port):

* **Memory**: RSS after start-up (config read, partitions assigned, one warm-up event) is the
  baseline; then events that each open an episode on a fresh fingerprint — a rule with
  ``for_count: 2``, so each one leaves a *pending* state (a changelog row) and no alert — until
  100,000 and then ``--events``-many (at least 1,000,000 by default) fingerprints are live.
  ``bytes_per_fingerprint_<n>`` = (RSS - baseline) / n, read from /proc.
* **Recovery**: the worker is stopped (SIGTERM) and a new one started with the same group and
  changelog; one probe event (a rule that fires at once, on a fresh fingerprint) is already
  waiting on the input topic. ``restart_to_first_alert_s`` = the new process started → the
  probe's alert readable on ``alerts``: process start-up, group join, recovery of every
  fingerprint's state from the changelog, then the first batch.

Both workers run with the fetch wait of a real Kafka deployment (``DEFAULT_FETCH_WAIT_MS``, 500 ms),
not the local stack's short one: tansu answers a fetch from deep in a large partition only when
given time, so with the local stack's 10 ms wait a recovering worker read almost nothing (a
plain consumer of a 200,000-row changelog got 7 records in 11 s at 10 ms, 22k in 60 s at 20 ms,
all of them in 45 s at 30 ms, 13.7 s at 50 ms, 5.4 s at 100 ms, 4.9 s at 500 ms; the restarted
worker never reached its first alert in 7 minutes). A real Kafka answers as soon as data is
there, whatever the wait, so the production default is the faithful setting here.

Also reported: the worker's CPU seconds per state written (``worker_cpu_us_per_state``), the
new process started → its first consumed event (``restart_to_first_consumed_s``, scraped from its
metrics: start-up, join and recovery without the first batch), its CPU seconds until the first
alert (``restart_cpu_s``: computing or waiting), and its RSS once recovered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from alertstream.bench.evaluator import consumed
from alertstream.bench.harness import produce_batch
from alertstream.bench.procstat import cpu_seconds, rss_mb
from alertstream.local_stack import free_port
from alertstream.runtime.kafka_clients import DEFAULT_FETCH_WAIT_MS, FETCH_WAIT_ENV, consumer_config
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import EXAMPLE_CONFIG, load_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.topics import TopicNames

STATE_METRIC = "bench_state"
PROBE_METRIC = "bench_state_probe"
#: The first measuring point; the second is the part's ``events`` (at least MIN_KEYS).
FIRST_KEYS = 100_000
MIN_KEYS = 1_000_000
CHUNK = 100_000


def _config(path: Path) -> None:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["rules"] += [
        {"id": "bench-state", "metric": STATE_METRIC, "operator": ">", "warning": 0, "for_count": 2},
        {"id": "bench-state-probe", "metric": PROBE_METRIC, "operator": ">", "critical": 0},
    ]
    data["rate_limits"] = {"window_seconds": 60}
    path.write_text(yaml.safe_dump(data))


def _events(codec: Codec, metric: str, run: str, start: int, count: int) -> list[tuple[bytes, bytes]]:
    now = int(time.time() * 1000)
    out = []
    for i in range(start, start + count):
        event = MetricEvent(f"{run}-{i}", "bench", metric, 1.0, f"{run}-s{i}", now)
        out.append((event.key(), codec.encode(c.METRIC_EVENT, event.to_record())))
    return out


class _Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alertstream", "worker", "--no-publish-config"],
            env={**env, "ALERTSTREAM_METRICS_PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_consumed(self, count: float, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}")
            seen = consumed(self.port)
            if seen >= count:
                return seen
            time.sleep(0.1)
        raise RuntimeError(f"worker consumed {consumed(self.port)} of {count} events in {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _settled_rss(pid: int) -> float:
    """RSS once it stops moving (the worker's last batch and its changelog writes done)."""
    last = rss_mb(pid)
    for _ in range(20):
        time.sleep(0.5)
        now = rss_mb(pid)
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


def _alert_consumer(bootstrap: str, topic: str) -> Consumer:
    consumer = Consumer(consumer_config(bootstrap, f"bench-state-{uuid.uuid4().hex}", **{"fetch.wait.max.ms": 5}))
    meta = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.topics[topic].partitions])
    return consumer


def run_state_bench(bootstrap: str, events: int, timeout: float = 900.0) -> dict[str, Any]:
    keys = max(events, MIN_KEYS)
    codec = Codec()
    topics = TopicNames(f"stb{uuid.uuid4().hex[:6]}.")
    create_topics(bootstrap, load_config(None), topics)
    run = uuid.uuid4().hex[:6]
    out: dict[str, Any] = {"fingerprints": keys}
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "bench-state.yaml"
        _config(config_path)
        env = {
            **os.environ,
            "ALERTSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "ALERTSTREAM_TOPIC_PREFIX": topics.prefix,
            "ALERTSTREAM_CONFIG": str(config_path),
            FETCH_WAIT_ENV: str(DEFAULT_FETCH_WAIT_MS),  # see the module's docstring
        }
        # both workers evaluate with the file's config (--no-publish-config: nothing else to wait for)
        worker = _Worker(env)
        try:
            produce_batch(bootstrap, topics.events_metric, _events(codec, "bench_warmup", run + "w", 0, 1))
            worker.wait_consumed(1, 180)
            baseline = _settled_rss(worker.proc.pid)
            out["rss_mb_baseline"] = baseline
            written = 0
            cpu_before = cpu_seconds(worker.proc.pid)
            for point in (FIRST_KEYS, keys):
                while written < point:
                    n = min(CHUNK, point - written)
                    produce_batch(bootstrap, topics.events_metric, _events(codec, STATE_METRIC, run, written, n))
                    written += n
                    worker.wait_consumed(written + 1, timeout)
                rss = _settled_rss(worker.proc.pid)
                out[f"rss_mb_{point}"] = rss
                out[f"bytes_per_fingerprint_{point}"] = round((rss - baseline) * 1024 * 1024 / point, 1)
            out["worker_cpu_us_per_state"] = round((cpu_seconds(worker.proc.pid) - cpu_before) / keys * 1e6, 2)
        finally:
            worker.stop()
        # the probe waits on the topic before the new worker starts: its alert is the first one
        consumer = _alert_consumer(bootstrap, topics.alerts)
        try:
            produce_batch(bootstrap, topics.events_metric, _events(codec, PROBE_METRIC, run + "p", 0, 1))
            restarted = _Worker(env)
            try:
                deadline = time.monotonic() + timeout
                first_alert: float | None = None
                first_consumed: float | None = None
                while first_alert is None and time.monotonic() < deadline:
                    if restarted.proc.poll() is not None:
                        raise RuntimeError(f"restarted worker exited with {restarted.proc.returncode}")
                    if first_consumed is None and consumed(restarted.port) > 0:
                        first_consumed = time.monotonic()
                    for msg in consumer.consume(100, 0.05):
                        value = msg.value()
                        if msg.error() is None and value is not None:
                            alert = codec.decode(value, c.ALERT)
                            if alert["rule_id"] == "bench-state-probe":
                                first_alert = time.monotonic()
                if first_alert is None:
                    raise RuntimeError(f"no alert from the restarted worker in {timeout:.0f} s")
                out["restart_to_first_alert_s"] = round(first_alert - restarted.started, 2)
                # computing or waiting: the restarted process's CPU over the same span
                out["restart_cpu_s"] = round(cpu_seconds(restarted.proc.pid), 2)
                if first_consumed is not None:
                    out["restart_to_first_consumed_s"] = round(first_consumed - restarted.started, 2)
                out["rss_mb_recovered"] = _settled_rss(restarted.proc.pid)
            finally:
                restarted.stop()
        finally:
            consumer.close()
    return out
