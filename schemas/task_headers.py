"""The header names of delivery tasks on retry tiers and DLQs, and the headers of a task put on a
retry tier: the contract between the deliver loop, ``dlq replay`` (CLI and API) and the store.

In the contract layer so that every stage that reads or replays a DLQ (``consumers``, ``api``)
names them from one place.
"""

from __future__ import annotations

HEADER_ATTEMPT = "attempt"
HEADER_NOT_BEFORE = "not-before"
HEADER_REASON = "reason"
HEADER_ERROR = "error"
#: Set by `dlq replay` and kept on later tiers: the task may pass a 410-disabled receiver.
HEADER_REPLAYED = "replayed"

Headers = list[tuple[str, str | bytes | None]]


def retry_headers(attempt: int, not_before_ms: int, reason: str | None, replayed: bool) -> Headers:
    """Headers of a task on a retry tier (``reason`` is None for a replay from the DLQ)."""
    return [
        (HEADER_ATTEMPT, str(attempt).encode()),
        (HEADER_NOT_BEFORE, str(not_before_ms).encode()),
        *([(HEADER_REASON, reason.encode())] if reason is not None else []),
        *([(HEADER_REPLAYED, b"1")] if replayed else []),
    ]
