"""The worker's ``alertstream_consumer_lag``: Faust's own view of each assigned input partition.

librdkafka's statistics give the other consumers their lag (:mod:`alertstream.runtime.consumer_lag`);
the worker's aiokafka consumer has no statistics callback, so a timer computes the same figure from
what Faust keeps: the partition's high watermark from the last fetch minus the offset Faust
committed (the next one to read). Partitions without a commit yet have no series.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from alertstream.runtime.consumer_lag import Row, export

#: Seconds between two exports (librdkafka's statistics interval for the other consumers).
LAG_INTERVAL_S = 5.0


def lag_rows(consumer: Any, topics: Collection[str]) -> list[Row]:
    """(topic, partition, lag) of the assigned partitions of ``topics`` with a commit and a watermark."""
    committed = getattr(consumer, "_committed_offset", {})
    rows: list[Row] = []
    for tp in consumer.assignment():
        if tp.topic not in topics:
            continue
        try:
            high = consumer.highwater(tp)
        except Exception:  # noqa: S112 - not fetched yet, or the consumer is being replaced in a rebalance
            continue
        done = committed.get(tp)
        if high is None or done is None:
            continue
        rows.append((tp.topic, tp.partition, max(0, int(high) - int(done))))
    return rows


def install_lag_export(app: Any, group: str, topics: Collection[str]) -> None:
    """A Faust timer on ``app`` exporting the lag of ``group`` on ``topics`` every few seconds."""

    async def export_lag() -> None:
        consumer = app.consumer
        export(group, lag_rows(consumer, topics))

    app.timer(LAG_INTERVAL_S)(export_lag)
