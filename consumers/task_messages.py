"""What a delivery attempt leaves on Kafka: the task again on a retry tier or the DLQ (with the
headers operators and `dlq list` read), and the outcome record for history and audit.

Pure builders, so the header contract is one place: the deliver loop, `dlq replay` and the tests
all use these names (those `dlq replay` needs live in :mod:`alertstream.schemas.task_headers`).
"""

from __future__ import annotations

from typing import Any

from alertstream.consumers.model import Task
from alertstream.schemas.task_headers import (  # re-exported: the deliver loop's names
    HEADER_ATTEMPT,
    HEADER_ERROR,
    HEADER_NOT_BEFORE,
    HEADER_REASON,
    HEADER_REPLAYED,
    Headers,
    retry_headers,
)

HEADER_DEAD_LETTERED_AT = "dead-lettered-at"
HEADER_SEVERITY = "severity"

#: Longest error text carried in a header or a task (details are bounded, never secret).
MAX_ERROR_CHARS = 500


def error_text(reason: str, detail: str) -> str:
    return detail[:MAX_ERROR_CHARS] or reason


def dlq_headers(attempt: int, reason: str, error: str, severity: str, at_ms: int) -> Headers:
    """Headers of a dead-lettered task."""
    return [
        (HEADER_ATTEMPT, str(attempt).encode()),
        (HEADER_REASON, reason.encode()),
        (HEADER_ERROR, error.encode()),
        (HEADER_DEAD_LETTERED_AT, str(at_ms).encode()),
        (HEADER_SEVERITY, severity.encode()),
    ]


#: Where a record set aside in the DLQ came from, and how big it was.
HEADER_SOURCE_TOPIC = "source.topic"
HEADER_SOURCE_PARTITION = "source.partition"
HEADER_SOURCE_OFFSET = "source.offset"
HEADER_ORIGINAL_SIZE = "original-size"
#: "1" when the DLQ entry's body is only a prefix of the original bytes (or empty).
HEADER_TRUNCATED = "truncated"
HEADER_DELIVERY_ID = "delivery-id"

#: Bytes of an oversized record kept in its DLQ entry (enough to identify it by eye).
SET_ASIDE_PREFIX = 4096


def source_headers(topic: str, partition: int, offset: int) -> Headers:
    return [
        (HEADER_SOURCE_TOPIC, topic.encode()),
        (HEADER_SOURCE_PARTITION, str(partition).encode()),
        (HEADER_SOURCE_OFFSET, str(offset).encode()),
    ]


def undecodable_headers(error: str, topic: str, partition: int, offset: int, reason: str = "undecodable") -> Headers:
    """Headers of raw bytes moved to the DLQ because they are not a task or an alert (``undecodable``)
    or a task this group may not act on (``invalid_task``, ``error`` says why)."""
    return [
        (HEADER_REASON, reason.encode()),
        (HEADER_ERROR, error[:MAX_ERROR_CHARS].encode()),
        *source_headers(topic, partition, offset),
    ]


def set_aside(value: bytes, fits: bool) -> tuple[bytes, Headers]:
    """The body a DLQ entry keeps of ``value`` and the headers that say so: all of it when it
    ``fits`` the size limit, else a bounded prefix (the source headers point to the original)."""
    if fits:
        return value, []
    return value[:SET_ASIDE_PREFIX], [
        (HEADER_ORIGINAL_SIZE, str(len(value)).encode()),
        (HEADER_TRUNCATED, b"1"),
    ]


def outcome_record(
    task: Task, channel: str, outcome: str, status: int | None, reason: str | None, latency: float, at_ms: int
) -> dict[str, Any]:
    """A ``DeliveryOutcome`` for ``alerts.deliveries``."""
    alert = task["alert"]
    return {
        "delivery_id": task["delivery_id"],
        "alert_id": alert["alert_id"],
        "fingerprint": alert["fingerprint"],
        "tenant": alert["tenant"],
        "channel": channel,
        "receiver": task["receiver"],
        "outcome": outcome,
        "attempt": int(task["attempt"]),
        "status_code": status,
        "reason": reason,
        "latency_seconds": latency,
        "at": at_ms,
    }


__all__ = [
    "HEADER_ATTEMPT",
    "HEADER_ERROR",
    "HEADER_NOT_BEFORE",
    "HEADER_REASON",
    "HEADER_REPLAYED",
    "Headers",
    "retry_headers",
]
