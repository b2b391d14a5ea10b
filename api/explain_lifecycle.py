"""The lifecycle's part of an explanation: what the worker's lifecycle decided about a record — pure.

Records the lifecycle derives (docs/lifecycle.md) carry ``details.reason`` plus one fact naming the
cause: ``suppression`` (the silence, inhibition rule or time interval that held the notification),
``released_from`` (the hold that ended), ``escalation`` (policy, step, round, receiver), ``action``
(who acknowledged or resolved, and their comment), ``missing_data``, ``nodata``. This module turns
those into one ``lifecycle`` decision, and names the fact keys that are not observations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alertstream.api.models import Decision

#: details keys the lifecycle adds (not observations of the rule's metric)
FACT_KEYS = frozenset(
    {"suppression", "released_from", "escalation", "action", "missing_data", "nodata", "muted_routes"}
)
_HOLD_NAMES = {"silenced": ("silence", "silence_id"), "inhibited": ("inhibition rule", "inhibit_rule")}


def _hold(suppression: Mapping[str, Any]) -> str:
    reason = str(suppression.get("reason") or "")
    noun, key = _HOLD_NAMES.get(reason, ("time interval", "time_interval"))
    return f"{noun} {suppression.get(key)}"


def _actor(details: Mapping[str, Any], verb: str) -> str:
    found = details.get("action")
    action: Mapping[str, Any] = found if isinstance(found, dict) else {}
    comment = f": {action['comment']}" if action.get("comment") else ""
    return f"{verb} by {action.get('by') or 'someone'}{comment}"


def lifecycle_decision(reason: str, details: Mapping[str, Any]) -> Decision | None:
    """The ``lifecycle`` decision of a record with ``reason``, or None for an evaluator decision."""
    detail: str
    if reason in ("silenced", "inhibited", "muted"):
        detail = f"held by {_hold(details.get('suppression') or {})}: recorded, not delivered"
    elif reason == "released":
        held = details.get("released_from") or {}
        detail = f"the hold {held.get('reason')} ({held.get('ref')}) ended while the alert still fired: notified now"
    elif reason == "escalation":
        e = details.get("escalation") or {}
        via = f" (on call in {e['schedule']})" if e.get("schedule") else ""
        step, rnd = int(e.get("step") or 0) + 1, int(e.get("round") or 0) + 1
        detail = f"step {step} of escalation policy {e.get('policy')} (round {rnd}) paged {e.get('receiver')}{via}"
    elif reason in ("acknowledged", "unacknowledged"):
        detail = _actor(details, reason) + (
            " — no re-notification or escalation while it lasts"
            if reason == "acknowledged"
            else " — escalation starts again"
        )
    elif reason == "resolved_by_user":
        detail = _actor(details, "resolved") + " — the episode ended; a new breach opens a new one"
    elif reason == "missing_data":
        md = details.get("missing_data") or {}
        detail = f"no events for {float(md.get('after_seconds') or 0):g}s (missing_data: {md.get('policy')}): resolved"
    elif reason == "nodata":
        detail = "the alert's events stopped (missing_data: nodata): this is its no-data alert"
    elif reason == "heartbeat_missing":
        detail = "a source this heartbeat rule had seen has not reported for its after_seconds"
    elif reason == "reported":
        detail = "the silent source reported again: its heartbeat alert resolved"
    else:
        return None
    return Decision(stage="lifecycle", outcome=reason, detail=detail)
