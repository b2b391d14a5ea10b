"""What is due for a firing episode between its events — pure, run by every lifecycle tick.

In this order, from the episode's changelogged state, its lifecycle entry and the clock:

1. **Missing data** (the rule's ``missing_data``; the worker clock since the episode's last applied
   event): ``resolve_after`` resolves it once (reason ``missing_data``; sent only if its firing
   was), ``nodata`` raises the episode's ``nodata`` alert once, ``keep_firing`` pushes its expiry
   out so that it stays firing.
2. **Holds**: a held episode whose hold has ended (silence expired or deleted, inhibiting source
   resolved, mute interval over) is notified at once (reason ``released``); one held for another
   cause now gets a new ``suppressed`` record.
3. **Escalation**: due steps of an unacknowledged, notified episode page
   (:mod:`.escalation`).

Every record derived here has an id fixed by the state (the step's due time, the hold's key, the
silence's end…), so a tick re-run after a crash re-sends the same ids.
"""

from __future__ import annotations

from alertstream.streams import escalation
from alertstream.streams.dedup import EpisodeState, replace
from alertstream.streams.lifecycle_config import LifecycleConfig
from alertstream.streams.lifecycle_records import derive, nodata_record, routes_for, suppressed_record
from alertstream.streams.lifecycle_state import FRESH, Changes, Entry, HoldCheck, acked


def due(config: LifecycleConfig, fp: str, entry: Entry, state: EpisodeState, now: int, hold: HoldCheck) -> Changes:
    out = Changes()
    changed = _missing_data(config, fp, entry, state, now, out)
    if changed is None:
        return out  # resolved: nothing else is due
    changed = _holds(config, fp, entry, changed, now, hold, out)
    changed = _escalate(config, fp, entry, changed, now, out)
    if changed != state:
        out.write(fp, entry.partition, changed)
    return out


def _missing_data(
    config: LifecycleConfig, fp: str, entry: Entry, state: EpisodeState, now: int, out: Changes
) -> EpisodeState | None:
    rule = config.rules.get(state.rule_id)
    md = rule.missing_data if rule is not None else None
    if md is None or rule is None:
        return state
    after_ms = int(md.after_seconds * 1000)
    if now - state.touched < after_ms:
        return state
    if md.policy == "resolve_after":
        at = state.touched + after_ms
        if state.notified_at:
            out.alerts.append(
                derive(
                    entry.template,
                    status="resolved",
                    event="notify",
                    reason="missing_data",
                    at=at,
                    now=now,
                    id_reason="missing_data",
                    routes=config.resolved_routes(entry.template),
                    facts={"missing_data": {"policy": md.policy, "after_seconds": md.after_seconds}},
                    last_seen=state.last_seen,
                )
            )
        if state.nodata_at:
            out.alerts.append(nodata_record(entry.template, state, "resolved", state.nodata_at, now))
        ended = replace(state, phase="ok", breach_count=0, notified_at=0, notified_severity="", **FRESH)
        out.write(fp, entry.partition, ended)
        out.end(fp, entry.partition)
        out.decisions.append((fp, "missing_data:resolved"))
        return None
    if md.policy == "nodata" and not state.nodata_at:
        state = replace(state, nodata_at=state.touched + after_ms)
        out.alerts.append(nodata_record(entry.template, state, "firing", state.nodata_at, now))
        out.decisions.append((fp, "missing_data:nodata"))
    elif md.policy == "keep_firing" and now - state.touched > state.ttl_ms - 60_000:
        state = replace(state, ttl_ms=state.ttl_ms + int(rule.group_window_seconds * 1000))
        out.decisions.append((fp, "missing_data:kept"))
    return state


def _holds(
    config: LifecycleConfig, fp: str, entry: Entry, state: EpisodeState, now: int, hold: HoldCheck, out: Changes
) -> EpisodeState:
    if not state.held or acked(state):
        return state
    template = entry.template
    held, muted, policy = hold(fp, template, now)
    if held is not None:
        if held.key != state.held:
            out.alerts.append(suppressed_record(template, held, now))
            out.decisions.append((fp, held.key))
            state = replace(state, held=held.key)
        return state
    reason, _, ref = state.held.partition(":")
    routes = [r for r in template.get("routes") or [] if r["receiver"] not in muted]
    out.alerts.append(
        derive(
            template,
            status="firing",
            event="notify",
            reason="released",
            at=state.last_seen,
            now=now,
            id_reason=f"released:{state.held}",
            routes=routes,
            facts={"released_from": {"reason": reason, "ref": ref}},
            severity=state.severity,
            occurrence_count=state.occurrence_count,
            suppressed_count=state.suppressed_count,
            last_seen=state.last_seen,
        )
    )
    out.decisions.append((fp, f"released:{state.held}"))
    state = replace(state, held="", notified_at=state.last_seen, notified_severity=state.severity)
    if policy in config.policies and not state.esc_due:
        walk = escalation.start(now)
        state = replace(state, esc_step=walk.step, esc_round=walk.round, esc_due=walk.due)
        entry.policy, entry.paged = str(policy), []
        out.keep(fp, entry)
    return state


def _escalate(
    config: LifecycleConfig, fp: str, entry: Entry, state: EpisodeState, now: int, out: Changes
) -> EpisodeState:
    policy = config.policies.get(entry.policy)
    if (
        policy is None
        or not state.esc_due
        or state.esc_due > now
        or acked(state)
        or state.held
        or not state.notified_at
    ):
        return state
    walk, pages = escalation.advance(
        policy, escalation.Walk(state.esc_step, state.esc_round, state.esc_due), now, config.on_call
    )
    for page in pages:
        channel = config.receivers.get(page.receiver or "")
        if page.receiver is None or channel is None:
            out.decisions.append((fp, f"escalation:{page.round}:{page.step}:nobody"))
            continue
        route = {"receiver": page.receiver, "channel": channel}
        out.alerts.append(
            derive(
                entry.template,
                status="firing",
                event="notify",
                reason="escalation",
                at=page.at,
                now=now,
                id_reason=f"escalation:{page.round}:{page.step}",
                routes=[route],
                facts={
                    "escalation": {
                        "policy": page.policy,
                        "step": page.step,
                        "round": page.round,
                        "receiver": page.receiver,
                        "schedule": page.schedule,
                    }
                },
                severity=state.severity,
                last_seen=state.last_seen,
            )
        )
        if route not in entry.paged:
            entry.paged.append(route)
        out.decisions.append((fp, f"escalation:{page.round}:{page.step}:{page.receiver}"))
    out.keep(fp, entry)
    return replace(state, esc_step=walk.step, esc_round=walk.round, esc_due=walk.due)


__all__ = ["due", "routes_for"]
