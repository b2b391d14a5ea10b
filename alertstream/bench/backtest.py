"""The backtest part of `alertstream bench`: how fast a recorded history replays.

* ``replay_events_per_s``: pure evaluation — the demo event mix, already decoded, through
  :func:`alertstream.backtest.replay.replay` with the example config (one config, one process, no
  Kafka): the figure the target (≥ 100,000 events/s) is about. ``replay_two_configs_events_per_s``
  is the same history through baseline + proposed in one pass (what `alertstream backtest` does).
  ``replay_cpu_us_per_event`` is the process's CPU time per event in the single-config pass
  (the machine is shared: CPU time is steadier than wall time).
* ``read_events_per_s``: reading the same events back from the broker by time and decoding and
  validating them (:func:`alertstream.backtest.history.read_history`).
Its ceiling is the Kafka passthrough measured by the harness in the same run.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from alertstream.backtest.history import read_history
from alertstream.backtest.replay import Recorded, replay
from alertstream.bench.harness import produce_batch
from alertstream.demo import demo_events
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config
from alertstream.schemas.events import DriftEvent, MetricEvent
from alertstream.schemas.topics import TopicNames
from alertstream.streams.evaluator import Compiled


def recorded_history(count: int, seed: int = 5, rate_per_s: float = 200.0) -> list[Recorded]:
    """``count`` demo events spread over time at ``rate_per_s`` (record time = event time)."""
    rng = random.Random(seed)
    start = int(time.time() * 1000) - int(count / rate_per_s * 1000) - 60_000
    out: list[Recorded] = []
    for i, event in enumerate(demo_events(rng)):
        at = start + int(i * 1000 / rate_per_s)
        if isinstance(event, MetricEvent):
            moved: MetricEvent | DriftEvent = MetricEvent(
                event.event_id, event.tenant, event.metric, event.value, event.source, at, event.labels
            )
        else:
            moved = DriftEvent(
                event.event_id,
                event.tenant,
                event.drift_type,
                event.payer,
                event.baseline_value,
                event.current_value,
                at,
                event.cpt_group,
                event.sample_count,
            )
        out.append(Recorded(at, hash(event.key()) % 6, moved))
        if len(out) == count:
            return out
    return out


def run_backtest_bench(bootstrap: str, events: int) -> dict[str, Any]:
    compiled = Compiled.from_config(load_config(None))
    history = recorded_history(events)
    started, cpu_started = time.perf_counter(), time.process_time()
    one = replay(history, {"config": compiled})["config"]
    single = len(history) / (time.perf_counter() - started)
    cpu_per_event = (time.process_time() - cpu_started) / len(history)
    started = time.perf_counter()
    replay(history, {"baseline": compiled, "proposed": compiled})
    double = len(history) / (time.perf_counter() - started)

    topics = TopicNames(f"btb{uuid.uuid4().hex[:6]}.")
    create_topics(bootstrap, load_config(None), topics)
    codec = Codec()
    messages = []
    for rec in history:
        e = rec.event
        name, topic = (c.METRIC_EVENT, topics.events_metric) if isinstance(e, MetricEvent) else (c.DRIFT_EVENT, None)
        if topic is None:
            continue  # the metric events are enough to time the reader
        messages.append((e.key(), codec.encode(name, e.to_record())))
    produce_batch(bootstrap, topics.events_metric, messages)
    started = time.perf_counter()
    read = read_history(bootstrap, topics, codec, 0, int(time.time() * 1000) + 60_000, idle_seconds=1.0)
    reading = len(read.events) / max(time.perf_counter() - started - 1.0, 1e-6)  # minus the idle wait at the end
    return {
        "events": len(history),
        "replay_events_per_s": round(single, 1),
        # CPU of this process per replayed event: what the figure above would be on an idle core
        "replay_cpu_us_per_event": round(cpu_per_event * 1e6, 2),
        "replay_two_configs_events_per_s": round(double, 1),
        "read_events_per_s": round(reading, 1),
        "notifications": len(one.notifications),
    }
