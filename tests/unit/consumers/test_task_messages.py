"""The header contract of retry-tier and DLQ messages, and the outcome record."""

from __future__ import annotations

from alertstream.consumers.task_messages import (
    dlq_headers,
    error_text,
    outcome_record,
    retry_headers,
    undecodable_headers,
)
from alertstream.schemas import avro_binary
from alertstream.schemas.codec import DELIVERY_OUTCOME, Codec


def test_retry_headers() -> None:
    assert retry_headers(2, 1700, "http_5xx", replayed=False) == [
        ("attempt", b"2"),
        ("not-before", b"1700"),
        ("reason", b"http_5xx"),
    ]
    # a replay from the DLQ has no failure reason yet and carries the replayed marker
    assert retry_headers(0, 5, None, replayed=True) == [("attempt", b"0"), ("not-before", b"5"), ("replayed", b"1")]


def test_dlq_headers() -> None:
    assert dlq_headers(4, "http_4xx", "400 Bad Request", "critical", 99) == [
        ("attempt", b"4"),
        ("reason", b"http_4xx"),
        ("error", b"400 Bad Request"),
        ("dead-lettered-at", b"99"),
        ("severity", b"critical"),
    ]


def test_undecodable_headers_point_at_the_source() -> None:
    assert undecodable_headers("truncated", "alerts", 3, 42) == [
        ("reason", b"undecodable"),
        ("error", b"truncated"),
        ("source.topic", b"alerts"),
        ("source.partition", b"3"),
        ("source.offset", b"42"),
    ]


def test_error_text_is_bounded_and_never_empty() -> None:
    assert error_text("timeout", "") == "timeout"
    assert len(error_text("http_5xx", "x" * 2000)) == 500


def test_outcome_record() -> None:
    task = {
        "delivery_id": "d1",
        "receiver": "ops",
        "attempt": "3",
        "alert": {"alert_id": "a1", "fingerprint": "f1", "tenant": "acme"},
    }
    record = outcome_record(task, "webhook", "sent", 200, None, 0.25, 7)
    plan = Codec().current[DELIVERY_OUTCOME].plan  # written by the compiled writer, no fastavro fallback
    assert plan is not None
    avro_binary.encode(plan, b"", record)
    assert record == {
        "delivery_id": "d1",
        "alert_id": "a1",
        "fingerprint": "f1",
        "tenant": "acme",
        "channel": "webhook",
        "receiver": "ops",
        "outcome": "sent",
        "attempt": 3,
        "status_code": 200,
        "reason": None,
        "latency_seconds": 0.25,
        "at": 7,
    }
