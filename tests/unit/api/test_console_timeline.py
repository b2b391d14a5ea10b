"""An alert's timeline and its explanation in words, from history models (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alertstream.api.console.timeline import timeline
from alertstream.api.explain import explain
from alertstream.api.models import Alert, Attempt, AuditEntry, DlqEntry, Notification, PreviousAlert, Route

T = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _s(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def _alert(**over: Any) -> Alert:
    values: dict[str, Any] = {
        "alert_id": "al-2",
        "tenant": "acme",
        "rule_id": "cpu-high",
        "rule_version": 7,
        "status": "firing",
        "severity": "critical",
        "fingerprint": "fp",
        "entity": "db-7",
        "summary": "CPU above 90%",
        "reason": "escalated",
        "details": {"rule": "cpu-high", "description": "CPU saturation", "operator": ">", "metric": "cpu_percent"},
        "labels": {},
        "value": 97.5,
        "threshold": 90.0,
        "occurrence_count": 12,
        "suppressed_count": 9,
        "first_seen": _s(-600),
        "last_seen": T,
        "emitted_at": _s(0.1),
        "event_ids": ["e1", "e2"],
        "routes": [Route(receiver="hook", channel="webhook"), Route(receiver="chat", channel="slack")],
        "rate_limited": False,
    }
    values.update(over)
    return Alert(**values)


def _attempt(n: int, outcome: str, at: float, code: int | None, reason: str | None, latency: float) -> Attempt:
    return Attempt(attempt=n, outcome=outcome, status_code=code, reason=reason, latency_seconds=latency, at=_s(at))


def _notification(delivery: str, channel: str, receiver: str, history: list[Attempt]) -> Notification:
    last = history[-1]
    return Notification(
        delivery_id=delivery,
        channel=channel,
        receiver=receiver,
        state=last.outcome,
        attempts=len(history),
        status_code=last.status_code,
        reason=last.reason,
        first_at=history[0].at,
        last_at=last.at,
        sent_at=next((a.at for a in history if a.outcome == "sent"), None),
        dead_lettered_at=next((a.at for a in history if a.outcome == "dead_lettered"), None),
        history=history,
    )


def _audit(action: str, actor: str, at: float, **over: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "at": _s(at),
        "recorded_at": _s(at),
        "actor": actor,
        "action": action,
        "reason": None,
        "delivery_id": None,
        "details": {},
    }
    values.update(over)
    return AuditEntry(**values)


def _story() -> Any:
    alert = _alert()
    previous = [
        PreviousAlert(
            alert_id="al-1",
            status="firing",
            severity="warning",
            reason="new",
            occurrence_count=2,
            suppressed_count=0,
            rate_limited=False,
            last_seen=_s(-300),
            emitted_at=_s(-299.9),
        ),
        PreviousAlert(  # an earlier episode: not part of this alert's story
            alert_id="al-0",
            status="resolved",
            severity="warning",
            reason="cleared",
            occurrence_count=1,
            suppressed_count=0,
            rate_limited=False,
            last_seen=_s(-3600),
            emitted_at=_s(-3600),
        ),
    ]
    e = explain(alert, {"dedup": 6, "grouped": 3}, previous)
    notifications = [
        _notification(
            "d-hook",
            "webhook",
            "hook",
            [_attempt(1, "retrying", 1, 503, "http_5xx", 0.31), _attempt(2, "sent", 11, 200, None, 0.048)],
        ),
        _notification("d-chat", "slack", "chat", [_attempt(1, "dead_lettered", 1.3, 400, "http_4xx", 0.2)]),
    ]
    dead = [
        DlqEntry(
            channel="slack",
            delivery_id="d-chat",
            receiver="chat",
            attempt=1,
            reason="http_4xx",
            error="400 Bad Request",
            dead_lettered_at=_s(1.3),
        ),
    ]
    audit = [
        _audit("fired", "evaluator", 0.1, reason="escalated"),
        _audit("retrying", "deliver:webhook", 1, delivery_id="d-hook"),
        _audit("notified", "deliver:webhook", 11, delivery_id="d-hook"),
        _audit("dead_lettered", "deliver:slack", 1.3, delivery_id="d-chat"),
        _audit("acknowledged", "api-key:k1", 60, details={"comment": "on it"}),
        _audit("escalated", "escalation", 90, details={"step": 2}, reason="not acknowledged in 5 min"),
        _audit("replayed", "dlq-replay", 120, delivery_id="d-chat", details={"channel": "slack", "receiver": "chat"}),
    ]
    later = [
        _alert(alert_id="al-3", reason="repeat", last_seen=_s(1800), emitted_at=_s(1800), summary="CPU still high"),
        _alert(
            alert_id="al-4", status="resolved", reason="cleared", last_seen=_s(2400), emitted_at=_s(2400), summary="ok"
        ),
    ]
    return alert, e, notifications, dead, audit, later


def test_the_timeline_tells_the_whole_story_in_order_once() -> None:
    story = timeline(*_story())
    assert [(e.kind, e.outcome) for e in story.entries] == [
        ("breach", None),
        ("earlier", None),
        ("suppressed", None),
        ("fired", None),
        ("routed", None),
        ("attempt", "retrying"),
        ("attempt", "dead_lettered"),
        ("attempt", "sent"),
        ("acknowledged", None),
        ("escalated", None),
        ("replayed", None),
        ("later", None),
        ("resolved", None),
    ]
    titles = [e.title for e in story.entries]
    assert titles[1] == "Earlier alert of this episode: firing warning (new)"
    assert titles[2] == "9 occurrence(s) folded into this alert instead of notifying (dedup 6, grouped 3)"
    assert titles[4] == "Routed to hook (webhook), chat (slack)"
    assert titles[5] == "webhook → hook: attempt 1 failed, will retry (HTTP 503, http_5xx) in 310 ms"
    assert titles[6] == "slack → chat: attempt 1 failed for good: dead-lettered (HTTP 400, http_4xx) in 200 ms"
    assert story.entries[6].detail == "DLQ reason http_4xx: 400 Bad Request"  # the DLQ entry, not a second row
    assert titles[7] == "webhook → hook: attempt 2 delivered (HTTP 200) in 48 ms"
    assert titles[8] == "Acknowledged by api-key:k1"
    assert story.entries[8].detail == "on it"
    assert titles[9] == "Escalated (step 2) by escalation"
    assert titles[10] == "Replayed from the dead-letter queue to chat by dlq-replay"
    assert story.entries[11].alert_id == "al-3"
    assert story.resolved_at == _s(2400)


def test_the_explanation_says_value_threshold_decisions_and_events() -> None:
    story = timeline(*_story())
    text = story.explanation
    assert text.startswith(
        "Rule cpu-high (config version 7) (CPU saturation) fired critical on db-7: cpu_percent 97.5 > 90."
    )
    assert (
        "9 occurrences of this fingerprint were folded into this alert instead of notifying (dedup: 6, grouped: 3)"
        in text
    )
    assert "Routed to hook (webhook), chat (slack)." in text
    assert text.endswith("The episode began at 2026-12-01 09:50:00 UTC; triggered by events e1, e2.")


def test_a_resolved_alert_has_no_continuation_and_resolves_itself() -> None:
    *_, later = _story()
    resolved = _alert(status="resolved", reason="cleared", suppressed_count=0)
    story = timeline(resolved, explain(resolved, None, []), [], [], [], later)
    assert [e.kind for e in story.entries] == ["breach", "resolved", "routed"]
    assert story.resolved_at == resolved.last_seen


def test_a_dlq_entry_without_an_outcome_row_is_its_own_entry() -> None:
    alert, e, _n, dead, _a, _later = _story()
    story = timeline(alert, e, [], dead, [], [])
    entry = next(x for x in story.entries if x.kind == "dead_lettered")
    assert (entry.title, entry.detail) == ("slack → chat: dead-lettered (http_4xx)", "400 Bad Request")
