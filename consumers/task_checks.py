"""Is a delivery task one this deliver group may act on? Pure checks, one reason per problem.

A task read back from a retry tier is valid Avro, but anyone who can write to the topic (an older
version, a bug, `dlq replay` of a hand-edited entry) can put values there that the loop must not
trust: an ``attempt`` of 2**31-1 overflows the ledger's integer column, a foreign channel or a
delivery id that is not the task's own would notify under someone else's idempotency key, text
with NUL bytes cannot be stored. Such a task goes to the DLQ (``invalid_task``) with the problem
as its error, and its offset moves on. Tasks built from ``alerts`` get the field checks too.
"""

from __future__ import annotations

from alertstream.consumers.failures import REASONS
from alertstream.consumers.model import Task, delivery_id
from alertstream.consumers.task_messages import MAX_ERROR_CHARS

#: Longest receiver name (the config's limit) and longest id-like text the ledger stores.
MAX_RECEIVER = 128
MAX_TEXT = 1024
#: Most requests one task can have made: probes of a receiver that is down count without moving
#: the task through the tiers, so attempts are not bounded by the tiers (but far from overflowing).
MAX_ATTEMPTS = 1_000_000


def _text_problem(name: str, value: object, limit: int = MAX_TEXT) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{name} is empty"
    if len(value) > limit:
        return f"{name} is longer than {limit} characters"
    if "\x00" in value:
        return f"{name} contains a NUL character"
    return None


def field_problem(task: Task) -> str | None:
    """What makes ``task`` unusable whatever its origin (the ledger could not record it), or None."""
    alert = task.get("alert") or {}
    for name, value, limit in (
        ("receiver", task.get("receiver"), MAX_RECEIVER),
        ("alert.alert_id", alert.get("alert_id"), MAX_TEXT),
        ("alert.fingerprint", alert.get("fingerprint"), MAX_TEXT),
        ("alert.tenant", alert.get("tenant"), MAX_TEXT),
    ):
        problem = _text_problem(name, value, limit)
        if problem is not None:
            return problem
    return None


def retry_problem(task: Task, channel: str) -> str | None:
    """What is wrong with ``task`` read back from a retry tier of ``channel``, or None."""
    if task.get("channel") != channel:
        return f"channel {str(task.get('channel'))[:32]!r} is not this group's ({channel})"
    problem = field_problem(task)
    if problem is not None:
        return problem
    alert = task["alert"]
    if task.get("delivery_id") != delivery_id(alert["alert_id"], channel, task["receiver"]):
        return "delivery_id is not the one of (alert_id, channel, receiver)"
    attempt = task.get("attempt")
    if not isinstance(attempt, int) or not 0 <= attempt <= MAX_ATTEMPTS:
        return f"attempt {attempt} not in 0..{MAX_ATTEMPTS}"
    for name in ("first_attempt_at", "not_before"):
        value = task.get(name)
        if not isinstance(value, int) or value < 0:
            return f"{name} {value} is negative"
    reason = task.get("last_reason")
    if reason is not None and reason not in REASONS:
        return f"last_reason {str(reason)[:32]!r} is not a known reason"
    error = task.get("last_error")
    if error is not None and len(error) > MAX_ERROR_CHARS:
        return f"last_error is longer than {MAX_ERROR_CHARS} characters"
    return None
