"""A user action applied to the episode it names — pure.

Applied by the worker that owns the fingerprint's partition, once: an action not newer than the
episode's ``action_at`` changes nothing (the actions topic is re-read from the start after every
restart). What each one does:

* ``acknowledge`` (firing, not yet acknowledged): recorded (``acked_at``, ``acked_by``); the
  episode is no longer re-notified and its escalation stops. Receivers with the notion hear of it:
  PagerDuty gets ``acknowledge`` on the same dedup key, webhooks an ``acknowledged`` event — those
  the episode was routed or escalated to, if its firing was notified.
* ``unacknowledge``: the acknowledgement is withdrawn; webhooks get an ``unacknowledged`` event and
  the escalation walk starts again from its first step.
* ``resolve``: the episode ends now (reason ``resolved_by_user``; its resolve is sent if its firing
  was); the next breach opens a new episode.

Anything else (acknowledging an alert that is not firing, resolving one that is over) is recorded in
the audit log by the store and changes nothing here.
"""

from __future__ import annotations

from alertstream.schemas.actions import Action
from alertstream.streams import escalation
from alertstream.streams.dedup import EpisodeState, replace
from alertstream.streams.lifecycle_config import LifecycleConfig
from alertstream.streams.lifecycle_records import (
    ACK_CHANNELS,
    UNACK_CHANNELS,
    and_paged,
    comment_text,
    derive,
    nodata_record,
    routes_for,
)
from alertstream.streams.lifecycle_state import FRESH, Changes, Entry, acked


def apply_action(
    config: LifecycleConfig, action: Action, partition: int, state: EpisodeState, entry: Entry | None, now: int
) -> Changes:
    out = Changes()
    fp = action.fingerprint
    if action.at <= state.action_at:
        out.decisions.append((fp, f"{action.kind}:already_applied"))
        return out
    changed = replace(state, action_at=action.at)
    facts = {
        "action": {
            "kind": action.kind,
            "by": action.actor,
            "at": action.at,
            "action_id": action.action_id,
            "comment": comment_text(action.comment),
        }
    }
    template = entry.template if entry is not None else None
    paged = entry.paged if entry is not None else []
    firing = state.phase == "firing"

    def announce(event: str, channels: frozenset[str]) -> None:
        """The (un)acknowledgement as a record to the channels that have the notion — only for an
        episode that was notified (nobody was told of the others)."""
        if template is not None and state.notified_at:
            routes = routes_for(template, channels, paged)
            out.alerts.append(
                derive(
                    template,
                    status="firing",
                    event=event,
                    reason=event,
                    at=action.at,
                    now=now,
                    id_reason=action.action_id,
                    routes=routes,
                    facts=facts,
                )
            )

    if action.kind == "acknowledge" and firing and not acked(state):
        changed = replace(changed, acked_at=action.at, acked_by=action.actor[:256])
        announce("acknowledged", ACK_CHANNELS)
        out.decisions.append((fp, "acknowledged"))
    elif action.kind == "unacknowledge" and firing and acked(state):
        changed = replace(changed, acked_at=0, acked_by="")
        if entry is not None and entry.policy in config.policies:
            walk = escalation.start(now)
            changed = replace(changed, esc_step=walk.step, esc_round=walk.round, esc_due=walk.due)
        announce("unacknowledged", UNACK_CHANNELS)
        out.decisions.append((fp, "unacknowledged"))
    elif action.kind == "resolve" and state.phase != "ok":
        if template is not None and state.notified_at:
            labels = template.get("labels") or {}
            routes = config.router.routes(
                str(template["tenant"]),
                str(template["severity"]),
                str(template["rule_id"]),
                "resolved",
                labels,
                str(template.get("entity") or ""),
            )
            out.alerts.append(
                derive(
                    template,
                    status="resolved",
                    event="notify",
                    reason="resolved_by_user",
                    at=action.at,
                    now=now,
                    id_reason=action.action_id,
                    routes=and_paged(({"receiver": x.receiver, "channel": x.channel} for x in routes), paged),
                    facts=facts,
                    last_seen=state.last_seen,
                )
            )
        if template is not None and state.nodata_at:
            out.alerts.append(nodata_record(template, state, "resolved", state.nodata_at, now))
        changed = replace(changed, phase="ok", breach_count=0, notified_at=0, notified_severity="", **FRESH)
        out.end(fp, partition)
        out.decisions.append((fp, "resolved_by_user"))
    else:
        out.decisions.append((fp, f"{action.kind}:nothing_to_do"))
    out.write(fp, partition, changed)
    return out
