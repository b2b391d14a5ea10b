"""Pure: one Kafka record the store reads → the rows it becomes (or why it cannot be stored).

The store reads four kinds of topic, and each record becomes at most one primary row plus one audit
row (the state change the history sees):

* ``alerts`` → an ``alerts`` row; audit ``fired`` (reason new / escalated / repeat / regroup) or
  ``resolved`` (actor ``evaluator``).
* ``alerts.deliveries`` → a ``delivery_outcomes`` row; audit ``notified`` / ``retrying`` /
  ``dead_lettered`` / ``duplicate_suppressed`` (actor ``deliver:<channel>``); the notification's
  summary row is recomputed from its outcomes by the writer.
* ``alerts.<channel>.dlq`` → a ``dlq_entries`` row (undecodable bytes included, keyed by their content).
* ``alerts.<channel>.retry.1`` → only a task put there by ``dlq replay`` (header ``replayed`` and
  attempt 0): audit ``replayed`` (actor ``dlq-replay``). Every other retry record is ignored.
* ``alertstream.actions`` → audit ``acknowledge`` / ``unacknowledge`` / ``resolve`` (actor: who
  asked, ``api-key:<id>`` or ``cli:<user>``), the request; what the worker then did arrives as an
  ``alerts`` record (``acknowledged``, ``resolved`` with reason ``resolved_by_user``, ...).
* ``alertstream.silences`` → audit ``silence_created`` (also for an update) or ``silence_expired``.

Alert records map to audit actions by what they tell (``event`` and ``details.reason``): ``fired``
(new, escalated, repeat, regroup, released, heartbeat_missing, nodata), ``escalated`` (a step of an
escalation policy paged), ``suppressed`` (reason silenced / inhibited / muted), ``acknowledged``,
``unacknowledged``, ``resolved`` (cleared, resolved_by_user, missing_data, reported).

Each audit row carries a ``source_key`` derived from the record's own content (never from offsets
or the clock), so reading a record twice — a crash before the commit, a replay of the topic —
derives the same key and the database keeps one row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alertstream.schemas.actions import Action, ActionError
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, DELIVERY_TASK, Codec
from alertstream.schemas.errors import CodecError
from alertstream.schemas.silences import Silence, SilenceError
from alertstream.schemas.topics import CHANNELS, TopicNames

Row = tuple[Any, ...]

#: outcome of alerts.deliveries -> audit action
OUTCOME_ACTIONS = {
    "sent": "notified",
    "retrying": "retrying",
    "dead_lettered": "dead_lettered",
    "disabled": "dead_lettered",
    "duplicate": "duplicate_suppressed",
}
MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class Source:
    """Where a record came from, and its original bytes (kept for the rejected topic)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode("utf-8", "replace")
        return None


@dataclass(frozen=True)
class StoreItem:
    """The rows one record becomes. ``table`` names its primary row's table."""

    source: Source
    table: str
    row: Row | None
    audit: Row | None = None
    delivery_id: str | None = None  # set for outcomes: its notification row is recomputed


@dataclass(frozen=True)
class Unwritable:
    """A record set aside: ``reason`` is bounded (a metric label), ``detail`` short and value-free."""

    source: Source
    reason: str
    detail: str


@dataclass(frozen=True)
class StoreTopics:
    """Which topic is which kind of record, under one prefix."""

    alerts: str
    deliveries: str
    dlq: dict[str, str]  # topic -> channel
    replays: dict[str, str]  # retry tier 1 topic -> channel
    actions: str = ""
    silences: str = ""

    @classmethod
    def of(cls, topics: TopicNames) -> StoreTopics:
        return cls(
            topics.alerts,
            topics.deliveries,
            {topics.dlq(ch): ch for ch in CHANNELS},
            {topics.retry(ch, 1): ch for ch in CHANNELS},
            topics.actions,
            topics.silences,
        )

    def all(self) -> list[str]:
        return [self.alerts, self.deliveries, *self.dlq, *self.replays, self.actions, self.silences]


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def details_json(text: str) -> str:
    """``details`` as JSON text PostgreSQL's jsonb accepts (it refuses the ``\\u0000`` escape)."""
    try:
        value = json.loads(text)
    except ValueError:
        value = {"raw": text[:8192]}
    return json.dumps(value).replace("\\u0000", "")


def _details(a: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(a["details"])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def suppressed_by_reason(a: dict[str, Any], details: dict[str, Any]) -> dict[str, int] | None:
    """The per-reason suppression breakdown, once the Alert record carries one (a field or a
    ``details`` key named ``suppressed_by_reason``: reason → count); None until then."""
    raw = a.get("suppressed_by_reason", details.get("suppressed_by_reason"))
    if not isinstance(raw, dict):
        return None
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int | float)}


def alert_row(a: dict[str, Any]) -> Row:
    details = _details(a)
    breakdown = suppressed_by_reason(a, details)
    return (
        a["alert_id"],
        a["tenant"],
        a["rule_id"],
        a["rule_version"],
        a["status"],
        a["severity"],
        a["fingerprint"],
        a["entity"],
        a["summary"],
        details_json(a["details"]),
        json.dumps(a["labels"]),
        a["value"],
        a["threshold"],
        a["occurrence_count"],
        a["suppressed_count"],
        ts(a["first_seen"]),
        ts(a["last_seen"]),
        ts(a["emitted_at"]) if a["emitted_at"] else None,
        json.dumps(a["event_ids"]),
        json.dumps(a["routes"]),
        a["rate_limited"],
        str(details.get("reason") or ""),
        json.dumps(breakdown) if breakdown is not None else None,
        a.get("event") or "notify",
    )


def _action(a: dict[str, Any], reason: str) -> str:
    event = a.get("event") or "notify"
    if a["status"] == "resolved":
        return "resolved"
    if event != "notify":
        return str(event)  # suppressed, acknowledged, unacknowledged
    return "escalated" if reason == "escalation" else "fired"


#: details keys the lifecycle adds to a record, copied into its audit row
_LIFECYCLE_FACTS = ("suppression", "action", "escalation", "released_from", "missing_data", "nodata", "muted_routes")


def alert_audit(a: dict[str, Any]) -> Row:
    details = _details(a)
    action = _action(a, str(details.get("reason") or ""))
    facts = {
        "rule_id": a["rule_id"],
        "rule_version": a["rule_version"],
        "severity": a["severity"],
        "occurrence_count": a["occurrence_count"],
        "suppressed_count": a["suppressed_count"],
        "rate_limited": a["rate_limited"],
        **{k: details[k] for k in _LIFECYCLE_FACTS if k in details},
    }
    return audit_row(
        at=ts(a["emitted_at"] or a["last_seen"]),
        actor="evaluator",
        action=action,
        reason=str(details.get("reason") or ("cleared" if action == "resolved" else "")) or None,
        tenant=a["tenant"],
        alert_id=a["alert_id"],
        fingerprint=a["fingerprint"],
        delivery_id=None,
        details=facts,
        source_key=f"alert:{a['alert_id']}",
    )


def outcome_row(o: dict[str, Any]) -> Row:
    return (
        o["delivery_id"],
        o["attempt"],
        o["outcome"],
        o["alert_id"],
        o["fingerprint"],
        o["tenant"],
        o["channel"],
        o["receiver"],
        o["status_code"],
        o["reason"],
        o["latency_seconds"],
        ts(o["at"]),
    )


def outcome_audit(o: dict[str, Any]) -> Row:
    return audit_row(
        at=ts(o["at"]),
        actor=f"deliver:{o['channel']}",
        action=OUTCOME_ACTIONS.get(o["outcome"], o["outcome"]),
        reason=o["reason"] or (o["outcome"] if o["outcome"] == "disabled" else None),
        tenant=o["tenant"],
        alert_id=o["alert_id"],
        fingerprint=o["fingerprint"],
        delivery_id=o["delivery_id"],
        details={
            "receiver": o["receiver"],
            "channel": o["channel"],
            "attempt": o["attempt"],
            "status_code": o["status_code"],
            "latency_seconds": o["latency_seconds"],
        },
        source_key=f"outcome:{o['delivery_id']}:{o['attempt']}:{o['outcome']}:{o['at']}",
    )


def audit_row(
    *,
    at: datetime,
    actor: str,
    action: str,
    reason: str | None,
    tenant: str | None,
    alert_id: str | None,
    fingerprint: str | None,
    delivery_id: str | None,
    details: dict[str, Any],
    source_key: str | None,
) -> Row:
    """One ``audit_log`` row in the column order the writer inserts."""
    return (at, actor, action, reason, tenant, alert_id, fingerprint, delivery_id, json.dumps(details), source_key)


def dlq_item(source: Source, channel: str, codec: Codec) -> StoreItem:
    """A DLQ record: decodable or not, it is an entry (undecodable ones carry no delivery id)."""
    reason = source.header("reason") or "unknown"
    error = (source.header("error") or "")[:500] or None
    at_header = source.header("dead-lettered-at")
    at_ms = int(at_header) if at_header and at_header.isdigit() else source.timestamp_ms
    try:
        task: dict[str, Any] | None = codec.decode(source.value, DELIVERY_TASK)
    except CodecError:
        task = None
    if task is None:
        # content, not the DLQ offset: the same bytes dead-lettered again (a re-produce after a crash,
        # a replay) are the same entry; deliver's source.* headers tell two real ones apart
        origin = ":".join(source.header(h) or "" for h in ("source.topic", "source.partition", "source.offset"))
        key = f"raw:{origin}:{hashlib.sha256(source.value).hexdigest()[:32]}"
        row: Row = (key, channel, None, None, None, None, None, None, None, reason, error, ts(at_ms))
    else:
        alert = task["alert"]
        key = f"task:{task['delivery_id']}:{task['attempt']}:{at_ms}"
        row = (
            key,
            channel,
            task["delivery_id"],
            alert["alert_id"],
            alert["tenant"],
            alert["fingerprint"],
            task["receiver"],
            alert["severity"],
            task["attempt"],
            reason,
            error or task.get("last_error"),
            ts(at_ms),
        )
    return StoreItem(source, "dlq_entries", (*row, source.partition, source.offset))


def replay_item(source: Source, channel: str, codec: Codec) -> StoreItem | Unwritable | None:
    """A task `dlq replay` put on retry tier 1 (header ``replayed``, attempt 0): audit ``replayed``.
    Any other retry-tier record is none of the store's business (None)."""
    if source.header("replayed") != "1":
        return None
    try:
        task = codec.decode(source.value, DELIVERY_TASK)
    except CodecError as exc:
        return Unwritable(source, "undecodable", exc.reason)
    if int(task["attempt"]) != 0:
        return None  # a later attempt of a replayed task (the header is kept across tiers)
    alert = task["alert"]
    audit = audit_row(
        at=ts(int(task["not_before"]) or source.timestamp_ms),
        actor="dlq-replay",
        action="replayed",
        reason=task.get("last_reason"),
        tenant=alert["tenant"],
        alert_id=alert["alert_id"],
        fingerprint=alert["fingerprint"],
        delivery_id=task["delivery_id"],
        details={"channel": channel, "receiver": task["receiver"]},
        source_key=f"replay:{task['delivery_id']}:{task['not_before']}",
    )
    return StoreItem(source, "audit_log", None, audit)


def action_item(source: Source) -> StoreItem | Unwritable:
    """A user action: its audit row (the request; the worker's doing comes on ``alerts``)."""
    try:
        action = Action.from_json(source.value)
    except ActionError as exc:
        return Unwritable(source, "bad_record", str(exc)[:MAX_DETAIL_CHARS])
    audit = audit_row(
        at=ts(action.at),
        actor=action.actor,
        action=action.kind,
        reason=action.comment[:MAX_DETAIL_CHARS] or None,
        tenant=action.tenant,
        alert_id=action.alert_id or None,
        fingerprint=action.fingerprint,
        delivery_id=None,
        details={"action_id": action.action_id, "comment": action.comment},
        source_key=f"action:{action.action_id}",
    )
    return StoreItem(source, "audit_log", None, audit)


def silence_item(source: Source) -> StoreItem | Unwritable | None:
    """A silence document: ``silence_created`` (or updated) / ``silence_expired``; tombstones none."""
    if not source.value:
        return None
    try:
        s = Silence.from_json(source.value)
    except SilenceError as exc:
        return Unwritable(source, "bad_record", str(exc)[:MAX_DETAIL_CHARS])
    expired = s.state(s.updated_at) == "expired"
    tenant = next((m.value for m in s.matchers if m.name == "tenant" and m.op == "="), None)
    audit = audit_row(
        at=ts(s.updated_at),
        actor=s.created_by or "unknown",
        action="silence_expired" if expired else "silence_created",
        reason=s.comment[:MAX_DETAIL_CHARS] or None,
        tenant=tenant,
        alert_id=None,
        fingerprint=None,
        delivery_id=None,
        details={"silence_id": s.id, **{k: v for k, v in s.to_dict().items() if k != "id"}},
        source_key=f"silence:{s.id}:{s.updated_at}:{'expired' if expired else 'set'}",
    )
    return StoreItem(source, "audit_log", None, audit)


def to_item(source: Source, topics: StoreTopics, codec: Codec) -> StoreItem | Unwritable | None:
    """What one record becomes; Unwritable when it cannot be decoded or does not make rows."""
    topic = source.topic
    if topic == topics.actions:
        return action_item(source)
    if topic == topics.silences:
        return silence_item(source)
    if topic in topics.dlq:
        return dlq_item(source, topics.dlq[topic], codec)
    if topic in topics.replays:
        return replay_item(source, topics.replays[topic], codec)
    expected = ALERT if topic == topics.alerts else DELIVERY_OUTCOME
    try:
        record = codec.decode(source.value, expected)
    except CodecError as exc:
        return Unwritable(source, "undecodable", exc.reason)
    try:
        if expected == ALERT:
            return StoreItem(source, "alerts", alert_row(record), alert_audit(record))
        return StoreItem(source, "delivery_outcomes", outcome_row(record), outcome_audit(record), record["delivery_id"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        return Unwritable(source, "bad_record", type(exc).__name__)
