"""`alertstream bench`: stage benchmarks beside the raw confluent-kafka ceiling, measured in one run.

These machines are shared and noisy, so absolute numbers mean little alone: every throughput is
reported with the *passthrough ceiling* measured in the same run on the same broker — a plain
confluent-kafka consumer that reads the same encoded events and produces them unchanged to another
topic (no decode, no logic). A stage's ratio to that ceiling is the figure to compare across runs.
A part may name its own ceiling (``"ceiling": "<figure>"``): the evaluator re-measures the
passthrough on its own backlog just before its worker drains it; delivery uses raw HTTP POSTs to
the same sink, because its bound is HTTP, not Kafka.

Stages plug in as functions returning a flat dict of figures (``*_per_s`` throughputs, ``*_ms``
latencies, ``*_mb`` memory): ``alertstream.bench.evaluator.run_evaluator_bench`` and
``alertstream.bench.delivery.run_delivery_bench``. Results print as a table and are written as JSON.
"""

from __future__ import annotations

import importlib
import inspect
import json
import platform
import random
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from alertstream.demo import demo_events
from alertstream.local_stack import LocalStack
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.runtime.settings import Settings
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.topics import TopicNames

#: part name -> (module, function). A part whose module does not exist yet is reported as absent.
PARTS: dict[str, tuple[str, str]] = {
    "evaluator": ("alertstream.bench.evaluator", "run_evaluator_bench"),
    "delivery": ("alertstream.bench.delivery", "run_delivery_bench"),
    "api": ("alertstream.bench.api", "run_api_bench"),
    "api-ingest": ("alertstream.bench.ingest", "run_ingest_bench"),
    "backtest": ("alertstream.bench.backtest", "run_backtest_bench"),
    "e2e": ("alertstream.bench.e2e", "run_e2e_bench"),
    "e2e-scale": ("alertstream.bench.e2e", "run_e2e_scale_bench"),
    "state": ("alertstream.bench.state", "run_state_bench"),
}


@dataclass
class BenchReport:
    machine: dict[str, Any]
    ceiling: dict[str, float]
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ratios(self) -> dict[str, float]:
        """Each stage throughput as a fraction of its ceiling measured in the same run.

        The ceiling is the Kafka passthrough unless a part names one of its own figures as
        ``"ceiling"`` (delivery: raw HTTP requests/s to the same sink, since its bound is HTTP,
        not Kafka), or a ceiling per figure (``{"figure": "its ceiling's figure"}``: backtest, whose
        replay and read have different bounds; only the figures named get a ratio). Offered rates
        (``*_offered_per_s``) are inputs, not results, and are skipped.
        """
        out: dict[str, float] = {}
        for part, figures in self.parts.items():
            own = figures.get("ceiling")
            if isinstance(own, dict):  # a ceiling per figure: {figure: its ceiling's figure}
                for key, name in own.items():
                    value, ceiling = figures.get(key), figures.get(name)
                    if isinstance(value, int | float) and isinstance(ceiling, int | float) and ceiling:
                        out[f"{part}.{key}"] = round(value / ceiling, 4)
                continue
            ceiling = figures.get(own) if isinstance(own, str) else self.ceiling["passthrough_events_per_s"]
            for key, value in figures.items():
                if key == own or not key.endswith("_per_s") or key.endswith("_offered_per_s"):
                    continue
                if isinstance(value, int | float) and isinstance(ceiling, int | float) and ceiling:
                    out[f"{part}.{key}"] = round(value / ceiling, 4)
        return out


def encoded_metric_events(count: int, seed: int = 11) -> list[tuple[bytes, bytes]]:
    """``count`` realistic MetricEvents (the demo mix), encoded once, as (key, value) pairs."""
    codec = Codec()
    rng = random.Random(seed)
    out: list[tuple[bytes, bytes]] = []
    for event in demo_events(rng):
        if isinstance(event, MetricEvent):
            out.append((event.key(), codec.encode(c.METRIC_EVENT, event.to_record())))
            if len(out) == count:
                return out
    return out


def produce_batch(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """Produce everything and wait for acknowledgements; returns messages/s."""
    producer = Producer(producer_config(bootstrap))
    start = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)
    return len(messages) / (time.perf_counter() - start)


def passthrough_ceiling(bootstrap: str, source: str, sink: str, expected: int, timeout: float = 120) -> float:
    """Raw consume -> produce of ``expected`` messages, timed from the first message read; msgs/s."""
    consumer = Consumer(consumer_config(bootstrap, f"bench-passthrough-{uuid.uuid4().hex}"))
    producer = Producer(producer_config(bootstrap))
    consumer.subscribe([source])
    moved = 0
    start: float | None = None
    deadline = time.monotonic() + timeout
    try:
        while moved < expected and time.monotonic() < deadline:
            batch = consumer.consume(10_000, 0.5)
            if batch and start is None:
                start = time.perf_counter()
            for msg in batch:
                if msg.error() is not None:
                    continue
                while True:
                    try:
                        producer.produce(sink, value=msg.value(), key=msg.key())
                        break
                    except BufferError:
                        producer.poll(0.05)
                moved += 1
            producer.poll(0)
        producer.flush(60)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    if start is None or moved < expected:
        raise RuntimeError(f"passthrough moved {moved} of {expected} messages")
    return moved / (time.perf_counter() - start)


def machine_facts() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def load_part(name: str) -> Callable[..., dict[str, Any]] | None:
    module_name, function = PARTS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    part: Callable[..., dict[str, Any]] | None = getattr(module, function, None)
    return part


def run_bench(settings: Settings, parts: list[str], events: int, out_dir: Path) -> BenchReport:
    with LocalStack(settings.kafka_bootstrap, settings.database_dsn()) as info:
        topics = TopicNames(f"bench{uuid.uuid4().hex[:6]}.")
        create_topics(info.bootstrap, load_config(settings.config), topics)
        messages = encoded_metric_events(events)
        produce_rate = produce_batch(info.bootstrap, topics.events_metric, messages)
        ceiling = passthrough_ceiling(info.bootstrap, topics.events_metric, topics.name("bench.passthrough"), events)
        report = BenchReport(
            machine={**machine_facts(), "broker": info.kafka_source, "database": info.database_source},
            ceiling={
                "passthrough_events_per_s": round(ceiling, 1),
                "produce_events_per_s": round(produce_rate, 1),
                "events": events,
            },
        )
        for name in parts:
            part = load_part(name)
            if part is None:
                report.parts[name] = {"status": "not in this build"}
                continue
            offered = {
                "bootstrap": info.bootstrap,
                "database_url": info.database_url,
                "events": events,
                "pids": dict(info.pids),
            }
            accepted = inspect.signature(part).parameters
            report.parts[name] = part(**{k: v for k, v in offered.items() if k in accepted})
    report.ceiling["bench_process_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({**report.__dict__, "ratios": report.ratios()}, indent=2) + "\n")
    return report


def format_report(report: BenchReport) -> str:
    rows: list[tuple[str, str]] = [("ceiling." + k, str(v)) for k, v in report.ceiling.items()]
    rows += [(f"{part}.{k}", str(v)) for part, figures in report.parts.items() for k, v in figures.items()]
    rows += [(f"ratio {k} / its ceiling", f"{r:.3f}") for k, r in report.ratios().items()]
    width = max(len(name) for name, _ in [("figure", ""), *rows])
    lines = [f"machine: {json.dumps(report.machine)}", "", f"{'figure':<{width}} {'value':>28}"]
    lines += [f"{name:<{width}} {value:>28}" for name, value in rows]
    return "\n".join(lines)
