"""The codec: round trips, both wire formats, and one test per malformed-input class."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec, SchemaVersion
from alertstream.schemas.errors import CodecError

METRIC = {
    "event_id": "e-1",
    "tenant": "acme",
    "metric": "cpu_percent",
    "value": 97.5,
    "source": "api-1",
    "labels": {"env": "prod"},
    "occurred_at": 1_700_000_000_000,
}
ALERT: dict[str, Any] = {
    "alert_id": "a-1",
    "tenant": "acme",
    "rule_id": "cpu-high",
    "rule_version": 3,
    "status": "firing",
    "severity": "critical",
    "fingerprint": "fp1",
    "entity": "api-1",
    "summary": "CPU 97.5% on api-1",
    "details": '{"value": 97.5}',
    "labels": {"env": "prod"},
    "value": 97.5,
    "threshold": 90.0,
    "occurrence_count": 4,
    "suppressed_count": 3,
    "first_seen": 1,
    "last_seen": 2,
    "emitted_at": 3,
    "event_ids": ["e-1", "e-2"],
    "routes": [{"receiver": "ops-hook", "channel": "webhook"}],
    "rate_limited": False,
    "event": "notify",
}


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec()


def test_metric_round_trip_single_object(codec: Codec) -> None:
    data = codec.encode(c.METRIC_EVENT, METRIC)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == codec.current[c.METRIC_EVENT].fingerprint
    assert codec.decode(data, c.METRIC_EVENT) == METRIC


def test_alert_and_delivery_task_round_trip(codec: Codec) -> None:
    assert codec.decode(codec.encode(c.ALERT, ALERT), c.ALERT) == ALERT
    task = {
        "delivery_id": "d-1",
        "channel": "webhook",
        "receiver": "ops-hook",
        "alert": ALERT,
        "attempt": 2,
        "first_attempt_at": 10,
        "not_before": 20,
        "last_reason": "http_5xx",
        "last_error": "503 Service Unavailable",
    }
    assert codec.decode(codec.encode(c.DELIVERY_TASK, task), c.DELIVERY_TASK) == task


class FakeRegistry:
    """In-memory registry double for the pure codec logic (the HTTP client is tested for real)."""

    def __init__(self) -> None:
        self.schemas: dict[int, dict[str, Any]] = {}
        self.subjects: dict[str, int] = {}

    def register(self, subject: str, schema: SchemaVersion) -> int:
        schema_id = 100 + len(self.schemas)
        self.schemas[schema_id] = schema.parsed
        self.subjects[subject] = schema_id
        return schema_id

    def schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        return self.schemas.get(schema_id)


def test_confluent_wire_format_with_registry() -> None:
    registry = FakeRegistry()
    writer = Codec(registry)
    data = writer.encode(c.METRIC_EVENT, METRIC, topic="events.metric")
    assert data[0] == 0
    assert struct.unpack(">I", data[1:5]) == (100,)
    assert registry.subjects == {"events.metric-value": 100}
    # a decoder that has never seen the id asks the registry; one without a registry cannot know it
    assert Codec(registry).decode(data, c.METRIC_EVENT) == METRIC
    with pytest.raises(CodecError) as err:
        Codec().decode(data, c.METRIC_EVENT)
    assert err.value.reason == "unknown_schema"


def _reason(codec: Codec, data: bytes, expected: str = c.METRIC_EVENT) -> str:
    with pytest.raises(CodecError) as err:
        codec.decode(data, expected)
    return err.value.reason


def test_bad_magic(codec: Codec) -> None:
    assert _reason(codec, b'{"tenant": "acme"}') == "bad_magic"
    assert _reason(codec, b"\xc3\x02" + bytes(20)) == "bad_magic"


def test_unknown_fingerprint(codec: Codec) -> None:
    data = codec.encode(c.METRIC_EVENT, METRIC)
    assert _reason(codec, data[:2] + b"\x00" * 8 + data[10:]) == "unknown_schema"


def test_truncated_everywhere(codec: Codec) -> None:
    data = codec.encode(c.METRIC_EVENT, METRIC)
    assert _reason(codec, b"") == "truncated"
    assert _reason(codec, b"\x00\x00") == "truncated"
    # from the second byte on (one byte 0xC3 is not yet a known magic), every cut is truncation
    for cut in range(2, len(data)):
        assert _reason(codec, data[:cut]) == "truncated", cut


def test_schema_mismatch_other_record_type(codec: Codec) -> None:
    assert _reason(codec, codec.encode(c.ALERT, ALERT), c.METRIC_EVENT) == "schema_mismatch"


def test_schema_mismatch_trailing_bytes(codec: Codec) -> None:
    assert _reason(codec, codec.encode(c.METRIC_EVENT, METRIC) + b"\x00") == "schema_mismatch"


def test_too_large() -> None:
    small = Codec(max_bytes=64)
    big = dict(METRIC, labels={f"k{i}": "v" * 10 for i in range(20)})
    assert _reason(small, Codec().encode(c.METRIC_EVENT, big)) == "too_large"


def test_garbage_never_escapes_as_another_exception(codec: Codec) -> None:
    """Random bodies behind a valid header: only CodecError, never a crash."""
    import random

    rng = random.Random(1)
    header = c.SINGLE_OBJECT_MAGIC + codec.current[c.ALERT].fingerprint
    reasons: set[str] = set()
    for _ in range(3000):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        try:
            codec.decode(header + body, c.ALERT)
        except CodecError as exc:
            reasons.add(exc.reason)
    # random bytes end early or hold a string that is not UTF-8 (for this seed, nothing else)
    assert reasons == {"truncated", "bad_text"}


def test_encode_rejects_a_record_that_does_not_fit(codec: Codec) -> None:
    with pytest.raises(CodecError) as err:
        codec.encode(c.METRIC_EVENT, dict(METRIC, value="high"))
    assert err.value.reason == "encode_failed"
