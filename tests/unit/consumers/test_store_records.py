"""What each record the store reads becomes (pure): rows, audit rows, idempotency keys, rejections."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alertstream.consumers.store import rejected_headers
from alertstream.consumers.store_records import Source, StoreItem, StoreTopics, Unwritable, to_item
from alertstream.consumers.store_writer import TABLES
from alertstream.consumers.task_messages import dlq_headers, retry_headers
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, DELIVERY_TASK, Codec
from alertstream.schemas.topics import TopicNames
from tests.unit.consumers.helpers import alert

CODEC = Codec()
NAMES = TopicNames("p.")
TOPICS = StoreTopics.of(NAMES)
AUDIT_COLUMNS = [c for c, _ in TABLES["audit_log"].columns]


def _source(topic: str, value: bytes, headers: list[tuple[str, Any]] | None = None, offset: int = 5) -> Source:
    encoded = tuple((k, v if isinstance(v, bytes) else str(v).encode()) for k, v in (headers or []))
    return Source(topic, 2, offset, b"key", value, 1_700_000_000_000, encoded)


def _audit(item: StoreItem) -> dict[str, Any]:
    assert item.audit is not None
    row = dict(zip(AUDIT_COLUMNS, item.audit, strict=True))
    row["details"] = json.loads(row["details"])
    return row


def _outcome(outcome: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "delivery_id": "msg_1",
        "alert_id": "a-1",
        "fingerprint": "fp-1",
        "tenant": "acme",
        "channel": "slack",
        "receiver": "ops",
        "outcome": outcome,
        "attempt": 2,
        "status_code": 503,
        "reason": reason,
        "latency_seconds": 0.1,
        "at": 1_700_000_000_500,
    }


def _task(attempt: int, not_before: int = 0) -> dict[str, Any]:
    return {
        "delivery_id": "msg_1",
        "channel": "slack",
        "receiver": "ops",
        "alert": alert(),
        "attempt": attempt,
        "first_attempt_at": 0,
        "not_before": not_before,
        "last_reason": "http_5xx",
        "last_error": "503",
    }


def test_an_alert_becomes_its_row_and_a_fired_audit_row_keyed_by_its_id() -> None:
    a = alert(details=json.dumps({"reason": "repeat", "threshold": 90}))
    item = to_item(_source(NAMES.alerts, CODEC.encode(ALERT, a)), TOPICS, CODEC)
    assert isinstance(item, StoreItem)
    assert item.table == "alerts"
    assert item.row is not None
    assert len(item.row) == len(TABLES["alerts"].columns)
    assert item.row[-3:] == ("repeat", None, "notify")  # reason; no per-reason breakdown; a notification
    audit = _audit(item)
    assert (audit["actor"], audit["action"], audit["reason"], audit["source_key"]) == (
        "evaluator",
        "fired",
        "repeat",
        "alert:a-1",
    )
    assert audit["details"]["suppressed_count"] == 1
    resolved = to_item(
        _source(NAMES.alerts, CODEC.encode(ALERT, alert(status="resolved", details="{}"))), TOPICS, CODEC
    )
    assert isinstance(resolved, StoreItem)
    assert (_audit(resolved)["action"], _audit(resolved)["reason"]) == ("resolved", "cleared")


def test_a_per_reason_breakdown_in_the_details_is_kept() -> None:
    a = alert(details=json.dumps({"reason": "new", "suppressed_by_reason": {"dedup": 4, "rate_limit": 1}}))
    item = to_item(_source(NAMES.alerts, CODEC.encode(ALERT, a)), TOPICS, CODEC)
    assert isinstance(item, StoreItem)
    assert item.row is not None
    assert json.loads(item.row[-2]) == {"dedup": 4, "rate_limit": 1}


@pytest.mark.parametrize(
    ("outcome", "reason", "action", "audit_reason"),
    [
        ("sent", None, "notified", None),
        ("retrying", "http_5xx", "retrying", "http_5xx"),
        ("dead_lettered", "http_4xx", "dead_lettered", "http_4xx"),
        ("disabled", None, "dead_lettered", "disabled"),
        ("duplicate", None, "duplicate_suppressed", None),
    ],
)
def test_each_outcome_is_an_audit_action_keyed_by_the_record_content(
    outcome: str, reason: str | None, action: str, audit_reason: str | None
) -> None:
    item = to_item(_source(NAMES.deliveries, CODEC.encode(DELIVERY_OUTCOME, _outcome(outcome, reason))), TOPICS, CODEC)
    assert isinstance(item, StoreItem)
    assert (item.table, item.delivery_id) == ("delivery_outcomes", "msg_1")
    audit = _audit(item)
    assert (audit["actor"], audit["action"], audit["reason"]) == ("deliver:slack", action, audit_reason)
    assert audit["source_key"] == f"outcome:msg_1:2:{outcome}:1700000000500"


def test_dlq_records_are_entries_and_undecodable_ones_are_keyed_by_content() -> None:
    headers = dlq_headers(3, "http_5xx", "503 from receiver", "critical", 1_700_000_001_000)
    item = to_item(_source(NAMES.dlq("slack"), CODEC.encode(DELIVERY_TASK, _task(3)), headers), TOPICS, CODEC)
    assert isinstance(item, StoreItem)
    assert item.row is not None
    assert item.row[:3] == ("task:msg_1:3:1700000001000", "slack", "msg_1")
    assert item.audit is None  # the dead_lettered outcome is the audit row
    raw_a = to_item(_source(NAMES.dlq("email"), b"\x00junk", [("reason", "undecodable")], offset=1), TOPICS, CODEC)
    raw_b = to_item(_source(NAMES.dlq("email"), b"\x00junk", [("reason", "undecodable")], offset=9), TOPICS, CODEC)
    assert isinstance(raw_a, StoreItem)
    assert isinstance(raw_b, StoreItem)
    assert raw_a.row is not None
    assert raw_b.row is not None
    assert raw_a.row[0] == raw_b.row[0], "the same bytes dead-lettered twice are one entry"
    assert raw_a.row[2] is None


def test_only_a_replay_from_the_dlq_is_read_from_retry_tier_1() -> None:
    replayed = _source(
        NAMES.retry("slack", 1), CODEC.encode(DELIVERY_TASK, _task(0, 42)), retry_headers(0, 42, None, True)
    )
    item = to_item(replayed, TOPICS, CODEC)
    assert isinstance(item, StoreItem)
    assert item.row is None
    audit = _audit(item)
    assert (audit["action"], audit["actor"], audit["source_key"]) == ("replayed", "dlq-replay", "replay:msg_1:42")
    later = _source(NAMES.retry("slack", 1), CODEC.encode(DELIVERY_TASK, _task(2)), retry_headers(2, 9, "x", True))
    plain = _source(NAMES.retry("slack", 1), CODEC.encode(DELIVERY_TASK, _task(1)), retry_headers(1, 9, "x", False))
    assert to_item(later, TOPICS, CODEC) is None
    assert to_item(plain, TOPICS, CODEC) is None


def test_undecodable_records_are_unwritable_with_the_codec_reason_and_headers_name_the_source() -> None:
    u = to_item(_source(NAMES.alerts, b"nope", [("trace", "t-1")]), TOPICS, CODEC)
    assert isinstance(u, Unwritable)
    assert (u.reason, u.detail) == ("undecodable", "bad_magic")
    assert rejected_headers(u) == [
        ("trace", b"t-1"),
        ("error.reason", b"undecodable"),
        ("error.detail", b"bad_magic"),
        ("source.topic", b"p.alerts"),
        ("source.partition", b"2"),
        ("source.offset", b"5"),
    ]


def test_the_insert_is_one_multi_row_statement_per_table() -> None:
    sql = TABLES["delivery_outcomes"].insert_sql()
    assert sql.startswith("WITH ins AS (INSERT INTO delivery_outcomes (delivery_id,")
    assert "FROM unnest(%s::text[], %s::integer[]," in sql
    assert "ON CONFLICT (delivery_id, attempt, outcome, at) DO NOTHING" in sql
    assert "u.details::jsonb" in TABLES["alerts"].insert_sql()


def test_lifecycle_records_and_actions_become_their_audit_actions() -> None:
    import json as _json

    from alertstream.schemas.actions import new_action
    from alertstream.schemas.matchers import parse_matchers
    from alertstream.schemas.silences import new_silence

    topics = TOPICS
    _src = _source

    def audit_of_alert(**fields: Any) -> tuple[str, str | None, dict[str, Any]]:
        item = to_item(_src(topics.alerts, CODEC.encode(ALERT, alert(**fields))), topics, CODEC)
        assert isinstance(item, StoreItem)
        assert item.audit is not None
        return item.audit[2], item.audit[3], _json.loads(item.audit[8])

    suppression = {"reason": "silenced", "silence_id": "s-1"}
    action, reason, facts = audit_of_alert(
        event="suppressed", details=_json.dumps({"reason": "silenced", "suppression": suppression})
    )
    assert (action, reason, facts["suppression"]) == ("suppressed", "silenced", suppression)
    assert audit_of_alert(event="acknowledged", details='{"reason": "acknowledged"}')[0] == "acknowledged"
    assert audit_of_alert(details='{"reason": "escalation", "escalation": {"step": 1}}')[:2] == (
        "escalated",
        "escalation",
    )
    assert audit_of_alert(status="resolved", details='{"reason": "resolved_by_user"}')[:2] == (
        "resolved",
        "resolved_by_user",
    )

    ack = new_action("acknowledge", "fp-1", "acme", "api-key:k1", 1_700_000_000_000, "on it", "a-1")
    item = to_item(_src(topics.actions, ack.to_json()), topics, CODEC)
    assert isinstance(item, StoreItem)
    assert item.row is None
    assert item.audit is not None
    assert item.audit[1:7] == ("api-key:k1", "acknowledge", "on it", "acme", "a-1", "fp-1")
    assert item.audit[9] == f"action:{ack.action_id}"

    s = new_silence(
        parse_matchers('tenant="acme", rule="cpu"'),
        1_700_000_000_000,
        1_700_000_600_000,
        "cli:ops",
        "",
        1_700_000_000_000,
    )
    created = to_item(_src(topics.silences, s.to_json()), topics, CODEC)
    expired = to_item(_src(topics.silences, s.expired(1_700_000_100_000).to_json()), topics, CODEC)
    assert isinstance(created, StoreItem)
    assert isinstance(expired, StoreItem)
    assert created.audit is not None
    assert expired.audit is not None
    assert (created.audit[2], created.audit[4]) == ("silence_created", "acme")
    assert expired.audit[2] == "silence_expired"
    assert created.audit[9] != expired.audit[9]
    assert to_item(_src(topics.silences, b""), topics, CODEC) is None  # a tombstone
    bad = to_item(_src(topics.actions, b"{}"), topics, CODEC)
    assert isinstance(bad, Unwritable)
    assert bad.reason == "bad_record"
