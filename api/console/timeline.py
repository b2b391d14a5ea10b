"""Pure: an alert's story as one ordered timeline, in words — the breach that began the episode,
the events that triggered it, what was folded into it and why, where it was routed, every
delivery attempt with its outcome and latency, dead-letterings and replays, the API's writes
(acknowledgements, silences, escalation steps: any audit row of the alert), the later alerts of the
episode and its resolve.

What the history cannot say, the timeline does not invent: occurrences folded into an alert are
counted per reason on the record, not kept one by one, so they are one entry (with the
breakdown when the record carries it); the time of each fold is not known.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from alertstream.api.console.models import Timeline, TimelineEntry
from alertstream.api.models import Alert, AuditEntry, DlqEntry, Explanation, Notification

#: audit actions the store derives from records the timeline already shows from their own tables
_FROM_TABLES = {"fired", "resolved", "notified", "retrying", "dead_lettered", "duplicate_suppressed"}
_STORE_ACTORS = ("evaluator", "deliver:")
_ATTEMPT_WORDS = {
    "sent": "delivered",
    "retrying": "failed, will retry",
    "dead_lettered": "failed for good: dead-lettered",
    "disabled": "not sent: the receiver is disabled",
    "duplicate": "not sent again: already delivered (duplicate)",
}


def timeline(
    alert: Alert,
    explanation: Explanation,
    notifications: Iterable[Notification],
    dead_letters: Iterable[DlqEntry],
    audit: Iterable[AuditEntry],
    later: Iterable[Alert],
) -> Timeline:
    """``later``: the alerts of the same fingerprint after this one, oldest first (the episode's
    continuation is cut at its first resolve)."""
    entries: list[TimelineEntry] = []
    entries += _origin(alert, explanation)
    entries += _deliveries(list(notifications), list(dead_letters))
    entries += _audited(audit)
    rest, resolved_at = _continuation(alert, later)
    entries += rest
    order = {"breach": 0, "earlier": 1, "suppressed": 2, "fired": 3, "resolved": 3, "routed": 4}
    entries.sort(key=lambda e: (e.at, order.get(e.kind, 9)))
    return Timeline(
        alert_id=alert.alert_id,
        fingerprint=alert.fingerprint,
        explanation=explain_in_words(alert, explanation),
        entries=entries,
        resolved_at=alert.last_seen if alert.status == "resolved" else resolved_at,
    )


def explain_in_words(alert: Alert, e: Explanation) -> str:
    """One paragraph: what fired, on what value against which threshold, and each decision."""
    metric = _observed_name(e)
    head = f"Rule {e.rule.id} (config version {e.rule.version})"
    verb = "resolved" if alert.status == "resolved" else f"fired {alert.severity}"
    value = ""
    if e.value is not None and e.threshold is not None:
        op = e.rule.operator or "vs"
        value = f": {metric + ' ' if metric else ''}{_num(e.value)} {op} {_num(e.threshold)}"
    elif e.value is not None:
        value = f": {metric + ' ' if metric else 'value '}{_num(e.value)}"
    described = f" ({e.rule.description})" if e.rule.description else ""
    sentences = [f"{head}{described} {verb} on {alert.entity}{value}."]
    sentences += [_sentence(d.detail) for d in e.decisions]
    sentences.append(
        f"The episode began at {_clock(e.trigger.first_seen)}; triggered by {_events(e.trigger.event_ids)}."
    )
    return " ".join(sentences)


def _origin(alert: Alert, e: Explanation) -> list[TimelineEntry]:
    out = [
        TimelineEntry(
            at=alert.first_seen,
            kind="breach",
            title=f"Episode began: first breach of {alert.rule_id} on {alert.entity}",
            detail=f"{alert.occurrence_count} occurrence(s) up to {_clock(alert.last_seen)}",
        )
    ]
    for p in reversed(e.previous):  # oldest first; only those of this episode
        if p.last_seen >= alert.first_seen:
            out.append(
                TimelineEntry(
                    at=p.emitted_at or p.last_seen,
                    kind="earlier",
                    title=f"Earlier alert of this episode: {p.status} {p.severity} ({p.reason or 'no reason'})",
                    alert_id=p.alert_id,
                    detail=f"{p.suppressed_count} folded into it" if p.suppressed_count else None,
                )
            )
    by_stage = {d.stage: d for d in e.decisions}
    at = alert.emitted_at or alert.last_seen
    if alert.suppressed_count:
        breakdown = e.suppressions.by_reason
        why = ", ".join(f"{k} {v}" for k, v in sorted(breakdown.items())) if breakdown else "no breakdown on the record"
        out.append(
            TimelineEntry(
                at=alert.last_seen,
                kind="suppressed",
                title=f"{alert.suppressed_count} occurrence(s) folded into this alert instead of notifying ({why})",
                detail=f"out of {alert.occurrence_count} occurrences in the episode so far",
                reason="folded",
            )
        )
    if alert.rate_limited:
        out.append(
            TimelineEntry(
                at=at,
                kind="suppressed",
                title="Over the tenant's rate limit: emitted anyway (critical), marked rate-limited",
                detail=by_stage["rate_limit"].detail if "rate_limit" in by_stage else None,
                reason="rate_limit",
            )
        )
    dedup = by_stage.get("dedup")
    status = "Resolved" if alert.status == "resolved" else f"Fired {alert.severity}"
    out.append(
        TimelineEntry(
            at=at,
            kind="resolved" if alert.status == "resolved" else "fired",
            title=f"{status} ({alert.reason or 'no decision recorded'}): {alert.summary}",
            detail=dedup.detail if dedup else None,
            actor="evaluator",
            reason=alert.reason or None,
        )
    )
    routing = by_stage.get("routing")
    if routing is not None:
        out.append(TimelineEntry(at=at, kind="routed", title=_sentence(routing.detail).rstrip(".")))
    return out


def _deliveries(notifications: list[Notification], dead: list[DlqEntry]) -> list[TimelineEntry]:
    errors = {(d.delivery_id, d.attempt): d for d in dead}
    shown: set[tuple[str | None, int | None]] = set()
    out: list[TimelineEntry] = []
    for n in notifications:
        for a in n.history:
            words = _ATTEMPT_WORDS.get(a.outcome, a.outcome)
            code = f"HTTP {a.status_code}" if a.status_code else None
            facts = ", ".join(x for x in (code, a.reason) if x)
            detail = None
            if a.outcome in ("dead_lettered", "disabled"):
                entry = errors.get((n.delivery_id, a.attempt))
                if entry is not None:
                    shown.add((n.delivery_id, a.attempt))
                    detail = f"DLQ reason {entry.reason}" + (f": {entry.error}" if entry.error else "")
            out.append(
                TimelineEntry(
                    at=a.at,
                    kind="attempt",
                    title=f"{n.channel} → {n.receiver}: attempt {a.attempt} {words}"
                    + (f" ({facts})" if facts else "")
                    + (f" in {_ms(a.latency_seconds)}" if a.outcome != "duplicate" else ""),
                    detail=detail,
                    actor=f"deliver:{n.channel}",
                    delivery_id=n.delivery_id,
                    channel=n.channel,
                    receiver=n.receiver,
                    outcome=a.outcome,
                    status_code=a.status_code,
                    reason=a.reason,
                    latency_seconds=a.latency_seconds,
                )
            )
    for d in dead:
        if (d.delivery_id, d.attempt) in shown:
            continue
        out.append(
            TimelineEntry(
                at=d.dead_lettered_at,
                kind="dead_lettered",
                title=f"{d.channel} → {d.receiver or '?'}: dead-lettered ({d.reason})",
                detail=d.error,
                actor=f"deliver:{d.channel}",
                delivery_id=d.delivery_id,
                channel=d.channel,
                receiver=d.receiver,
                outcome="dead_lettered",
                reason=d.reason,
            )
        )
    return out


def _audited(audit: Iterable[AuditEntry]) -> list[TimelineEntry]:
    """Audit rows that no table above already shows: replays, and every write of the API (ack,
    resolve by a person, silences, escalation steps) — named by their action, with the actor."""
    out = []
    for a in audit:
        if a.action in _FROM_TABLES and a.actor.startswith(_STORE_ACTORS):
            continue
        details = a.details or {}
        note = details.get("comment") or details.get("note")
        receiver = details.get("receiver")
        title = a.action.replace("_", " ").capitalize()
        if a.action == "replayed":
            title = f"Replayed from the dead-letter queue to {receiver or 'its receiver'}"
        elif details.get("step") is not None:
            title += f" (step {details['step']})"
        out.append(
            TimelineEntry(
                at=a.at,
                kind=a.action,
                title=f"{title} by {a.actor}" if not a.actor.startswith(_STORE_ACTORS) else title,
                detail=" · ".join(str(x) for x in (a.reason, note) if x) or None,
                actor=a.actor,
                delivery_id=a.delivery_id,
                channel=str(details["channel"]) if details.get("channel") else None,
                receiver=str(receiver) if receiver else None,
                reason=a.reason,
            )
        )
    return out


def _continuation(alert: Alert, later: Iterable[Alert]) -> tuple[list[TimelineEntry], datetime | None]:
    if alert.status == "resolved":
        return [], None
    out = []
    for a in later:
        resolved = a.status == "resolved"
        what = "Resolved" if resolved else f"Notified again: {a.severity} ({a.reason or 'no decision recorded'})"
        out.append(
            TimelineEntry(
                at=a.emitted_at or a.last_seen,
                kind="resolved" if resolved else "later",
                title=f"{what}: {a.summary}",
                alert_id=a.alert_id,
                actor="evaluator",
                reason=a.reason or None,
            )
        )
        if resolved:
            return out, a.last_seen
    return out, None


def _observed_name(e: Explanation) -> str:
    for key in ("metric", "drift_type"):
        value = e.observed.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _events(ids: list[str]) -> str:
    if not ids:
        return "no recorded event id"
    shown = ", ".join(ids[:5])
    return f"event{'s' if len(ids) != 1 else ''} {shown}" + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _num(v: float) -> str:
    return f"{v:g}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _clock(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
