"""Why an alert fired (or resolved), from what its Alert record carries — pure.

The evaluator records its decision in ``details.reason`` (``new``, ``escalated``, ``repeat``,
``regroup``; ``cleared`` for a resolve), the occurrences folded into the alert instead of
notifying (``suppressed_count``), whether a tenant rate limit applied (``rate_limited``) and the
receivers the routing tree chose (``routes``). This module turns those facts, plus the earlier
alerts of the same fingerprint, into a list of decisions a person can read. The per-reason
breakdown of the suppressions (``details.suppressed_by_reason``, the store's column of that name)
is shown when the record carries one (records from workers before it do not).
"""

from __future__ import annotations

from typing import Any

from alertstream.api.explain_lifecycle import FACT_KEYS, lifecycle_decision
from alertstream.api.models import Alert, Decision, Explanation, PreviousAlert, RuleRef, Suppressions, Trigger

_DEDUP = {
    "new": "first notification of this episode: the condition held for the rule's `for` and no alert of "
    "this fingerprint was open",
    "escalated": "the severity rose above the one last notified: notified at once, whatever the dedup window",
    "repeat": "the repeat interval had passed since the last notification (outside its dedup window): "
    "notified again with what was folded meanwhile",
    "regroup": "the group window of the open alert had ended: notified as a new group",
    "cleared": "the value no longer breached the rule's clear level: resolved (resolves are never deduplicated)",
}
#: details keys the evaluator adds that are not observations
_NOT_OBSERVED = {"rule", "description", "operator", "reason", "suppressed_by_reason", *FACT_KEYS}


def explain(alert: Alert, suppressed_by_reason: dict[str, int] | None, previous: list[PreviousAlert]) -> Explanation:
    details = alert.details
    reason = alert.reason or str(details.get("reason") or "")
    lifecycle = lifecycle_decision(reason, details)  # silences, acks, escalation... (docs/lifecycle.md)
    decisions = [
        Decision(stage="dedup", outcome="lifecycle", detail="decided by the alert lifecycle, not by dedup")
        if lifecycle is not None
        else Decision(
            stage="dedup", outcome=reason or "unknown", detail=_DEDUP.get(reason, "no decision recorded on the alert")
        ),
        _grouping(alert, suppressed_by_reason),
        Decision(
            stage="rate_limit",
            outcome="applied" if alert.rate_limited else "not_applied",
            detail=(
                "the tenant was over its rate limit: emitted anyway because it is critical, marked rate_limited"
                if alert.rate_limited
                else "within the tenant's rate limits (alerts over the limit that are not critical are held back)"
            ),
        ),
        _routing(alert),
        *([lifecycle] if lifecycle is not None else []),
    ]
    return Explanation(
        alert_id=alert.alert_id,
        fingerprint=alert.fingerprint,
        status=alert.status,
        severity=alert.severity,
        summary=alert.summary,
        rule=RuleRef(
            id=alert.rule_id,
            version=alert.rule_version,
            description=_text(details.get("description")),
            operator=_text(details.get("operator")),
        ),
        value=alert.value,
        threshold=alert.threshold,
        observed={k: v for k, v in details.items() if k not in _NOT_OBSERVED},
        trigger=Trigger(
            event_ids=alert.event_ids,
            occurrence_count=alert.occurrence_count,
            first_seen=alert.first_seen,
            last_seen=alert.last_seen,
        ),
        decisions=decisions,
        suppressions=Suppressions(count=alert.suppressed_count, by_reason=suppressed_by_reason),
        previous=previous,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _grouping(alert: Alert, by_reason: dict[str, int] | None) -> Decision:
    n = alert.suppressed_count
    if n == 0:
        return Decision(stage="grouping", outcome="none", detail="no occurrence was folded into this alert")
    parts = f" ({', '.join(f'{k}: {v}' for k, v in sorted(by_reason.items()))})" if by_reason else ""
    return Decision(
        stage="grouping",
        outcome="folded",
        detail=f"{n} occurrence{'s' if n != 1 else ''} of this fingerprint were folded into this alert instead of "
        f"notifying{parts}, out of {alert.occurrence_count} in the episode",
    )


def _routing(alert: Alert) -> Decision:
    if not alert.routes:
        return Decision(stage="routing", outcome="no_route", detail="the routing tree chose no receiver")
    names = ", ".join(f"{r.receiver} ({r.channel})" for r in alert.routes)
    return Decision(stage="routing", outcome="routed", detail=f"routed to {names}")
