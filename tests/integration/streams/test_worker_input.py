"""Input no consumer may choke on, against a real worker process and the real broker."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.codec import DEFAULT_MAX_BYTES
from alertstream.schemas.events import MetricEvent
from alertstream.streams.ingest import SET_ASIDE_PREFIX_BYTES
from tests.integration.streams.script import RULES
from tests.integration.streams.worker_proc import (
    CODEC,
    WorkerProcess,
    committed_offsets,
    publish,
    read_until,
    settled_alerts,
    start_worker,
    warm_up,
    write_config,
)
from tests.kafka_reader import Record

pytestmark = pytest.mark.integration


def _oversized(size: int, tag: str) -> bytes:
    """A well-formed MetricEvent of exactly ``size`` bytes (its source string padded out)."""
    record = MetricEvent(tag, "acme", "cpu_percent", 95.0, "", int(time.time() * 1000)).to_record()
    base = len(CODEC.encode(c.METRIC_EVENT, {**record, "source": "x" * 1000})) - 1000
    pad = size - base
    value = CODEC.encode(c.METRIC_EVENT, {**record, "source": "x" * pad})
    while len(value) > size:  # the string's length prefix grew by a byte or two
        pad -= len(value) - size
        value = CODEC.encode(c.METRIC_EVENT, {**record, "source": "x" * pad})
    assert len(value) == size
    return value


def test_oversized_messages_are_set_aside_and_the_worker_keeps_evaluating(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """A 2 MB and a 1,040,000-byte message (over the 1,000,000-byte limit) used to be forwarded whole
    to events.invalid, which the producer refused: the worker died on every restart."""
    w = start_worker(workers, settings, write_config(tmp_path / "c.yaml", RULES))
    warm_up(settings, w)
    topic = settings.topics.events_metric
    sizes = {b"big-2mb": 2_000_000, b"big-1040k": 1_040_000}
    originals = {key: _oversized(size, key.decode()) for key, size in sizes.items()}
    now = int(time.time() * 1000) - 60_000
    good = [MetricEvent(f"g{i}", "acme", "cpu_percent", 85.0, f"after-big-{i}", now + i) for i in range(50)]
    publish(
        settings,
        [*((topic, key, value) for key, value in originals.items()), *good],
        partition=0,
        max_message_bytes=3_000_000,  # a producer that ignores the pipeline's limit
    )

    alerts = settled_alerts(settings, w)
    assert Counter(a["entity"] for a in alerts) == {f"after-big-{i}": 1 for i in range(50)}
    assert w.metric("alertstream_events_invalid_total", reason="too_large") == 2
    invalid = read_until(settings.require_bootstrap(), settings.topics.events_invalid, lambda r: len(r) >= 2, 60)
    assert len(invalid) == 2  # the worker's counter says 2: no duplicates from crash loops
    by_key: dict[bytes | None, Record] = {r.key: r for r in invalid}
    assert set(by_key) == set(originals)
    for key, record in by_key.items():
        original = originals[key]  # type: ignore[index]
        assert record.headers["error.reason"] == b"too_large"
        assert record.headers["error.original_size"] == str(len(original)).encode()
        assert record.headers["error.truncated"] == b"true"
        assert record.headers["source.topic"] == topic.encode()
        assert record.headers["source.partition"] == b"0"
        assert str(DEFAULT_MAX_BYTES).encode() in record.headers["error.detail"]
        assert record.value == original[:SET_ASIDE_PREFIX_BYTES]  # a bounded prefix, by reference
    offsets = {int(r.headers["source.offset"]) for r in invalid}
    assert len(offsets) == 2
    assert w.alive()

    # the partition moved on: its committed offset passes the last good event
    records = read_until(settings.require_bootstrap(), topic, lambda r: any(x.key == good[-1].key() for x in r), 60)
    last_good = max(r.offset for r in records if r.key == good[-1].key() and r.partition == 0)
    assert last_good > max(offsets)
    deadline = time.monotonic() + 60
    while committed_offsets(settings, topic)[0] <= last_good:
        assert time.monotonic() < deadline, f"offsets not committed: {committed_offsets(settings, topic)}"
        time.sleep(0.5)
    assert w.alive()
