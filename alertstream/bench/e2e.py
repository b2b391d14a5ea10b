"""The e2e part of `alertstream bench`: events in -> webhook received, the whole pipeline, measured.

Real processes: `alertstream worker` and `alertstream deliver webhook` (subprocesses), the broker
and PostgreSQL of the bench's local stack, and an HTTP sink in its own process. Every probe event
breaches the one rule on a fresh source, so every event must become exactly one notification.

Figures (one run):

* **burst**: ``alerts`` events produced at once (all stamped with the burst start) ->
  notifications/s from the first event produced to the last webhook received; notifications per
  CPU-second summed over worker + deliver + broker + database (from /proc, descendants included);
  p50/p99/max input -> arrival.
* **duplicate-heavy**: the same number of events over a tenth as many fingerprints (the other
  nine of ten are deduplicated): events/s through the whole pipeline.
* **paced**: ``paced_rate`` events/s for ``paced_seconds``: p50/p99 input -> arrival.
* **idle**: CPU cores used by each process over 10 s with nothing happening.
* **memory**: RSS of worker and deliver, fresh (after warm-up) and after the runs.
* **ceiling**: bare POSTs through the channels' own client to the same sink from one process
  (requests/s).
* **Alertmanager** (Debian's `prometheus-alertmanager`, when installed): the same burst, paced run,
  idle and memory figures, into the same sink, in the same run.
* Exactly once: the sink counts distinct delivery ids; a duplicate or a missing one fails the part.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

from confluent_kafka import Producer

from alertstream.bench.alertmanager import Alertmanager, binary
from alertstream.bench.harness import produce_batch
from alertstream.bench.pipeline import PROBE_METRIC, Pipeline, e2e_config
from alertstream.bench.procstat import CpuSample, rss_mb
from alertstream.bench.sink import Sink
from alertstream.consumers.db import create_schema, drop_schema
from alertstream.runtime import event_loop
from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.topics import TopicNames

CODEC = Codec()
PARTITIONS = 6


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else float("nan")


def _probe(run: str, i: int, at: int, source: str | None = None) -> tuple[bytes, bytes]:
    event = MetricEvent(f"{run}-{i}", "bench", PROBE_METRIC, 1.0, source or f"{run}-s{i}", at)
    return event.key(), CODEC.encode(c.METRIC_EVENT, event.to_record())


def _wait(pred: Any, timeout: float, check: Any = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        if check is not None:
            check()
        time.sleep(0.02)
    return bool(pred())


class _Run:
    def __init__(
        self, bootstrap: str, sink: Sink, pipeline: Pipeline, topics: TopicNames, pids: dict[str, int]
    ) -> None:
        self.bootstrap, self.sink, self.pipeline, self.topics, self.pids = bootstrap, sink, pipeline, topics, pids
        self.producer = Producer(producer_config(bootstrap, **{"linger.ms": 0}))
        self.run = uuid.uuid4().hex[:6]

    def warm_up(self) -> None:
        """Probes on every partition until each reaches the sink: every partition assigned and flowing."""
        deadline = time.monotonic() + 120
        round_ = 0
        while time.monotonic() < deadline:
            self.pipeline.check()
            self.sink.ask("reset")
            now = int(time.time() * 1000)
            for p in range(PARTITIONS):
                key, value = _probe(f"{self.run}w{round_}", p, now)
                self.producer.produce(self.topics.events_metric, key=key, value=value, partition=p)
            self.producer.flush(10)
            if _wait(lambda: self.sink.stats("/hook")["distinct"] >= PARTITIONS, 3):
                self.sink.ask("reset")
                return
            round_ += 1
        raise RuntimeError("the pipeline did not deliver a probe from every partition in 120 s")

    def idle(self, seconds: float = 10.0) -> dict[str, float]:
        time.sleep(2.0)
        before = CpuSample.take(self.pids)
        time.sleep(seconds)
        spent = CpuSample.take(self.pids).since(before)
        return {f"idle_cores_{name}": round(v / seconds, 4) for name, v in spent.items()} | {
            "idle_cores_total": round(sum(spent.values()) / seconds, 4)
        }

    def burst(self, count: int, per_fingerprint: int = 1) -> dict[str, Any]:
        self.sink.ask("reset")
        start_ms = int(time.time() * 1000)
        messages = []
        tag = f"{self.run}b{per_fingerprint}"  # fresh fingerprints for every burst
        for i in range(count):
            fp = i // per_fingerprint
            messages.append(_probe(tag, i, start_ms + i % per_fingerprint, f"{tag}f{fp}"))
        expected = count // per_fingerprint
        before = CpuSample.take(self.pids)
        t0 = time.time() * 1000
        produce_batch(self.bootstrap, self.topics.events_metric, messages)
        if not _wait(lambda: self.sink.stats("/hook")["distinct"] >= expected, 600, self.pipeline.check):
            raise RuntimeError(f"only {self.sink.stats('/hook')['distinct']} of {expected} notifications arrived")
        spent = CpuSample.take(self.pids).since(before)
        # the sentinel: a later notification, so nothing more of this burst can still be on its way
        self._sentinel()
        stats = self.sink.stats("/hook")
        cpu = sum(spent.values())
        elapsed_s = (stats["last_ms"] - t0) / 1000
        latencies: list[float] = self.sink.ask("latencies /hook")[:expected]
        return {
            "expected": expected,
            "distinct": int(stats["distinct"]) - 1,  # minus the sentinel
            "duplicates": int(stats["duplicates"]),
            "elapsed_s": round(elapsed_s, 3),
            "cpu_s": {k: round(v, 3) for k, v in spent.items()},
            "cpu_s_total": round(cpu, 3),
            "latencies": latencies,
        }

    def _sentinel(self) -> None:
        target = self.sink.stats("/hook")["distinct"] + 1
        key, value = _probe(f"{self.run}sentinel{uuid.uuid4().hex[:4]}", 0, int(time.time() * 1000))
        self.producer.produce(self.topics.events_metric, key=key, value=value)
        self.producer.flush(10)
        if not _wait(lambda: self.sink.stats("/hook")["distinct"] >= target, 120, self.pipeline.check):
            raise RuntimeError("the sentinel notification did not arrive")

    def paced(self, rate: float, seconds: float) -> list[float]:
        self.sink.ask("reset")
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            key, value = _probe(f"{self.run}p", i, int(time.time() * 1000))
            self.producer.produce(self.topics.events_metric, key=key, value=value)
            self.producer.poll(0)
        self.producer.flush(10)
        if not _wait(lambda: self.sink.stats("/hook")["distinct"] >= total, 120, self.pipeline.check):
            raise RuntimeError("paced notifications did not all arrive")
        latencies: list[float] = self.sink.ask("latencies /hook")
        return latencies


async def _raw_posts(url: str, requests: int, concurrency: int = 100) -> float:
    """Bare POSTs through the channels' own client (``HttpClients.post``), no Kafka, no ledger."""
    from alertstream.consumers.http import HttpClients

    body = b'{"alert_id":"raw","summary":"ceiling"}'
    headers = {"content-type": "application/json"}
    sem = asyncio.Semaphore(concurrency)
    clients = HttpClients()

    async def one() -> None:
        async with sem:
            assert (await clients.post(url, body, headers, True, 2.0, 5.0)).status_code == 200

    try:
        await asyncio.gather(*(one() for _ in range(200)))
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - started)
    finally:
        await clients.aclose()


def _alertmanager(path: str, sink: Sink, alerts: int, rate: float, seconds: float, idle: float) -> dict[str, Any]:
    am = Alertmanager(path, sink.url("/am"))
    out: dict[str, Any] = {}
    try:
        pid = {"alertmanager": am.proc.pid}
        run = uuid.uuid4().hex[:6]
        am.post([am.alert(f"{run}warm", int(time.time() * 1000))])
        _wait(lambda: sink.stats("/am")["distinct"] >= 1, 30)
        out["am_rss_mb_fresh"] = rss_mb(am.proc.pid)
        time.sleep(2.0)
        before = CpuSample.take(pid)
        time.sleep(idle)
        out["am_idle_cores"] = round(CpuSample.take(pid).since(before)["alertmanager"] / idle, 4)
        sink.ask("reset")
        before = CpuSample.take(pid)
        t0 = time.time() * 1000
        for start in range(0, alerts, 100):
            now = int(time.time() * 1000)
            am.post([am.alert(f"{run}b{i}", now) for i in range(start, min(start + 100, alerts))])
        if not _wait(lambda: sink.stats("/am")["distinct"] >= alerts, 300):
            raise RuntimeError(f"alertmanager delivered {sink.stats('/am')['distinct']} of {alerts}")
        cpu = CpuSample.take(pid).since(before)["alertmanager"]
        stats = sink.stats("/am")
        latencies: list[float] = sink.ask("latencies /am")
        out["am_notifications_per_s"] = round(alerts / ((stats["last_ms"] - t0) / 1000), 1)
        out["am_notifications_per_cpu_s"] = round(alerts / cpu, 1) if cpu else None
        out["am_burst_p50_ms"], out["am_burst_p99_ms"] = _pct(latencies, 0.5), _pct(latencies, 0.99)
        out["am_duplicates"] = int(stats["duplicates"])
        sink.ask("reset")
        total = int(rate * seconds)
        begin = time.perf_counter()
        for i in range(total):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            am.post([am.alert(f"{run}p{i}", int(time.time() * 1000))])
        _wait(lambda: sink.stats("/am")["distinct"] >= total, 60)
        paced: list[float] = sink.ask("latencies /am")
        out["am_paced_p50_ms"], out["am_paced_p99_ms"] = _pct(paced, 0.5), _pct(paced, 0.99)
        out["am_rss_mb_after"] = rss_mb(am.proc.pid)
    finally:
        am.stop()
    return out


def run_e2e_bench(
    bootstrap: str,
    database_url: str,
    pids: dict[str, int],
    events: int,
    *,
    workers: int = 1,
    delivers: int = 1,
    paced_rate: float = 100.0,
    paced_seconds: float = 20.0,
    idle_seconds: float = 10.0,
    with_alertmanager: bool = True,
) -> dict[str, Any]:
    alerts = min(events, 10_000)
    sink = Sink("last_seen")
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    dsn = create_schema(database_url, schema)
    topics = TopicNames(f"e2e{uuid.uuid4().hex[:6]}.")
    config = e2e_config(sink.url("/hook"))
    create_topics(bootstrap, load_config(None), topics)
    pipeline = Pipeline(bootstrap, dsn, topics.prefix, config, workers, delivers)
    out: dict[str, Any] = {"ceiling": "raw_posts_per_s", "alerts": alerts, "workers": workers, "delivers": delivers}
    try:
        pipeline.start()
        stack = {"broker": pids["tansu"]} if "tansu" in pids else {}
        if "postgres" in pids:
            stack["database"] = pids["postgres"]
        run = _Run(bootstrap, sink, pipeline, topics, {**pipeline.pids(), **stack})
        run.warm_up()
        for name, pid in pipeline.pids().items():
            out[f"rss_mb_fresh_{name}"] = rss_mb(pid)
        out.update(run.idle(idle_seconds))
        burst = run.burst(alerts)
        if burst["distinct"] != alerts or burst["duplicates"]:
            raise RuntimeError(f"not exactly once: {burst['distinct']} distinct of {alerts}, {burst['duplicates']} dup")
        out["e2e_notifications_per_s"] = round(alerts / burst["elapsed_s"], 1)
        out["e2e_notifications_per_cpu_s"] = round(alerts / burst["cpu_s_total"], 1)
        out.update({f"burst_cpu_s_{k}": v for k, v in burst["cpu_s"].items()})
        lat = burst["latencies"]
        out["burst_p50_ms"], out["burst_p99_ms"] = _pct(lat, 0.5), _pct(lat, 0.99)
        out["burst_max_ms"] = round(max(lat), 2)
        out["exactly_once"] = True
        dup = run.burst(alerts, per_fingerprint=10)
        if dup["distinct"] != dup["expected"] or dup["duplicates"]:
            raise RuntimeError(f"duplicate-heavy: {dup['distinct']} notifications, expected {dup['expected']}")
        out["dup_heavy_events_per_s"] = round(alerts / dup["elapsed_s"], 1)
        out["dup_heavy_events_per_cpu_s"] = round(alerts / dup["cpu_s_total"], 1)
        paced = run.paced(paced_rate, paced_seconds)
        out["paced_offered_per_s"] = paced_rate
        out["paced_p50_ms"], out["paced_p99_ms"] = _pct(paced, 0.5), _pct(paced, 0.99)
        out["paced_mean_ms"] = round(statistics.fmean(paced), 2)
        for name, pid in pipeline.pids().items():
            out[f"rss_mb_after_{name}"] = rss_mb(pid)
        out["raw_posts_per_s"] = round(event_loop.run(_raw_posts(sink.url("/raw"), 10_000)), 1)
        path = binary() if with_alertmanager else None
        if path is not None:
            out.update(_alertmanager(path, sink, alerts, paced_rate, paced_seconds, idle_seconds))
            if out.get("am_notifications_per_cpu_s"):
                out["vs_alertmanager_per_cpu"] = round(
                    out["e2e_notifications_per_cpu_s"] / out["am_notifications_per_cpu_s"], 3
                )
        else:
            out["alertmanager"] = "not installed (apt-get install prometheus-alertmanager)"
    finally:
        pipeline.stop()
        sink.close()
        drop_schema(database_url, schema)
    return out


def run_e2e_scale_bench(bootstrap: str, database_url: str, pids: dict[str, int], events: int) -> dict[str, Any]:
    """Scale-out shown, not claimed: 2 workers + 2 deliver processes on 6 partitions, exactly once."""
    return run_e2e_bench(bootstrap, database_url, pids, events, workers=2, delivers=2, with_alertmanager=False)
