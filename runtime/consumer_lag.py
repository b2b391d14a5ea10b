"""``alertstream_consumer_lag{group,topic,partition}``: how far each consumer is behind, per partition,
exported by the consumer itself from its own assignment and watermarks.

Why from the consumer and not from an exporter: the process knows its group and assignment, so the
series exist exactly where work is assigned, and a scaled-down process takes its series with it.

* confluent-kafka consumers (deliver, store): librdkafka's statistics (every 5 s, the
  ``stats_cb`` of :meth:`alertstream.runtime.health.Health.kafka_callbacks`) carry ``consumer_lag``
  per partition = high watermark - committed offset. :class:`ConsumerLag` is chained into that
  callback by :func:`alertstream.runtime.kafka_clients.consumer_config`.
* the worker (Faust/aiokafka): :func:`export` with the rows the worker computes from Faust's
  highwaters and committed offsets on a timer.

A partition that leaves the assignment loses its series (no stale lag). Partitions without a
commit yet (lag unknown) have no series. On the local broker (tansu) the high watermark is
approximate (docs/local-stack.md), so the figures are too.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Gauge

CONSUMER_LAG = Gauge(
    "alertstream_consumer_lag",
    "Records between a consumer group's committed offset and the partition's high watermark.",
    ["group", "topic", "partition"],
)

Row = tuple[str, int, int]  # topic, partition, lag
_exported: dict[str, set[tuple[str, int]]] = {}
_lock = threading.Lock()


def lag_rows(stats: dict[str, Any]) -> list[Row]:
    """(topic, partition, lag) of every assigned partition with a known lag in librdkafka statistics."""
    rows: list[Row] = []
    for topic, info in (stats.get("topics") or {}).items():
        for key, part in (info.get("partitions") or {}).items():
            partition = int(key)
            if partition < 0 or part.get("fetch_state") in (None, "none", "stopped"):
                continue  # -1: librdkafka's internal partition; none/stopped: not assigned here
            lag = part.get("consumer_lag", -1)
            if isinstance(lag, int) and lag >= 0:
                rows.append((topic, partition, lag))
    return rows


def export(group: str, rows: Iterable[Row]) -> None:
    """Set the group's gauges to ``rows`` and drop the series of partitions no longer in them."""
    now: set[tuple[str, int]] = set()
    with _lock:
        for topic, partition, lag in rows:
            CONSUMER_LAG.labels(group=group, topic=topic, partition=str(partition)).set(lag)
            now.add((topic, partition))
        for topic, partition in _exported.get(group, set()) - now:
            CONSUMER_LAG.remove(group, topic, str(partition))
        _exported[group] = now


class ConsumerLag:
    """A librdkafka ``stats_cb`` that exports the lag of ``group``, then calls the next callback."""

    def __init__(self, group: str) -> None:
        self.group = group

    def chain(self, then: Callable[[str], Any] | None = None) -> Callable[[str], None]:
        def on_stats(text: str) -> None:
            # statistics we cannot read: keep the last figures, never break the consumer
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                export(self.group, lag_rows(json.loads(text)))
            if then is not None:
                then(text)

        return on_stats
