"""Heartbeat rules: a source that reported and then went quiet raises an alert — pure.

A heartbeat (``heartbeats:`` in the config) watches metric events (of one metric, or any; of one
tenant, or any; carrying some labels). Each source it has seen — tenant + source, the events' key,
so its state lives on the events' partition — has an episode row keyed by
``fingerprint(heartbeat id, tenant, source)``: ``ok`` while it reports (``touched`` = when the
worker last applied one of its events), ``firing`` once it has been silent for ``after_seconds``
(worker clock). The alert goes through the same holds as any other (silences, inhibition, mutes)
and escalates like one; it resolves (reason ``reported``) at the source's next event. A source
never seen raises nothing; a source silent for longer than the state's life (7 days, or twice
``after_seconds``) is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alertstream.schemas.events import DriftEvent, MetricEvent
from alertstream.schemas.lifecycle_config import Heartbeat
from alertstream.schemas.matchers import alert_labels
from alertstream.streams import escalation
from alertstream.streams.dedup import EpisodeState, replace
from alertstream.streams.evaluator import StoredState
from alertstream.streams.fingerprint import fingerprint
from alertstream.streams.lifecycle_config import LifecycleConfig
from alertstream.streams.lifecycle_records import derive, suppressed_record
from alertstream.streams.lifecycle_state import FRESH, Changes, Entry, HoldCheck, Row
from alertstream.streams.sanitise import details_json, redact_text, summary_text

WEEK_MS = 7 * 86_400_000


def _watches(hb: Heartbeat, e: MetricEvent) -> bool:
    return (
        (hb.metric is None or hb.metric == e.metric)
        and (hb.tenant is None or hb.tenant == e.tenant)
        and all(e.labels.get(k) == v for k, v in hb.labels.items())
    )


def _template(config: LifecycleConfig, hb: Heartbeat, fp: str, e: MetricEvent) -> dict[str, Any]:
    entity = redact_text(e.source)
    routes = config.router.routes(e.tenant, hb.severity, hb.id, "firing", e.labels, entity)
    return {
        "alert_id": "",
        "tenant": e.tenant,
        "rule_id": hb.id,
        "rule_version": config.version,
        "status": "firing",
        "severity": hb.severity,
        "fingerprint": fp,
        "entity": entity,
        "summary": summary_text(
            f"[{hb.severity}] {hb.id}: {entity} ({e.tenant}) has not reported for {hb.after_seconds:g}s"
        ),
        "details": details_json(
            {
                "rule": hb.id,
                "description": hb.description,
                "reason": "heartbeat",
                "metric": hb.metric or "*",
                "source": entity,
                "after_seconds": hb.after_seconds,
            }
        ),
        "labels": config.redaction.labels(e.labels),
        "value": None,
        "threshold": None,
        "occurrence_count": 1,
        "suppressed_count": 0,
        "first_seen": e.occurred_at,
        "last_seen": e.occurred_at,
        "emitted_at": 0,
        "event_ids": [],
        "routes": [{"receiver": r.receiver, "channel": r.channel} for r in routes],
        "rate_limited": False,
        "event": "notify",
    }


def heartbeat_events(
    config: LifecycleConfig,
    events: Sequence[tuple[int, MetricEvent | DriftEvent]],
    writes: dict[str, tuple[int, Row | None]],
    get_state: Callable[[str], StoredState | None],
    get_entry: Callable[[str], Any],
    now: int,
    hold: HoldCheck,
) -> Changes:
    """Note every watched source's report (``writes`` gains their rows); a firing one resolves."""
    out = Changes()
    states: dict[str, EpisodeState] = {}
    for partition, e in events:
        if not isinstance(e, MetricEvent):
            continue
        for hb in config.heartbeats:
            if not _watches(hb, e):
                continue
            fp = fingerprint(hb.id, e.tenant, e.source)
            state = states.get(fp)
            if state is None:
                stored = get_state(fp)
                state = EpisodeState.from_row(stored[1]) if stored else None
            if state is None:
                ttl = max(WEEK_MS, int(2 * hb.after_seconds * 1000))
                state = EpisodeState(
                    "ok", e.occurred_at, now, ttl, hb.id, first_seen=e.occurred_at, last_at=e.occurred_at
                )
                out.keep(fp, Entry(partition, _template(config, hb, fp, e)))
            elif e.occurred_at <= state.last_at:
                continue  # a redelivery or an older reading: not a new report
            elif get_entry(fp) is None and fp not in out.entries:
                out.keep(fp, Entry(partition, _template(config, hb, fp, e)))
            if state.phase == "firing":
                raw = get_entry(fp)
                entry = Entry.from_value(raw) if raw is not None else None
                if entry is not None and state.notified_at:
                    out.alerts.append(
                        derive(
                            entry.template,
                            status="resolved",
                            event="notify",
                            reason="reported",
                            at=e.occurred_at,
                            now=now,
                            id_reason="reported",
                            routes=config.resolved_routes(entry.template),
                            last_seen=e.occurred_at,
                        )
                    )
                out.firing[fp] = None
                out.decisions.append((fp, "heartbeat:reported"))
                state = replace(state, phase="ok", notified_at=0, notified_severity="", **FRESH)
            state = replace(
                state, touched=now, last_seen=e.occurred_at, last_at=e.occurred_at, watermark=min(e.occurred_at, now)
            )
            states[fp] = state
            writes[fp] = (partition, state.to_row())
    return out


def heartbeat_tick(hb: Heartbeat, fp: str, entry: Entry, state: EpisodeState, now: int, hold: HoldCheck) -> Changes:
    """A reporting (``ok``) source silent for ``after_seconds``: the heartbeat alert fires."""
    out = Changes()
    after_ms = int(hb.after_seconds * 1000)
    if state.phase != "ok" or now - state.touched < after_ms:
        return out
    at = state.touched + after_ms
    template = {**entry.template, "last_seen": state.last_seen}
    held, muted, policy = hold(fp, template, now)
    fired = replace(
        state, phase="firing", severity=hb.severity, first_seen=at, occurrence_count=1, breach_started=at, **FRESH
    )
    out.firing[fp] = alert_labels(template)
    if held is not None:
        out.alerts.append(suppressed_record(template, held, now))
        out.write(fp, entry.partition, replace(fired, held=held.key, notified_at=0))
        out.decisions.append((fp, held.key))
        return out
    routes = [r for r in template.get("routes") or [] if r["receiver"] not in muted]
    out.alerts.append(
        derive(
            template,
            status="firing",
            event="notify",
            reason="heartbeat_missing",
            at=at,
            now=now,
            id_reason="heartbeat",
            routes=routes,
            first_seen=at,
        )
    )
    fired = replace(fired, notified_at=at, notified_severity=hb.severity)
    if policy is not None:
        walk = escalation.start(now)
        fired = replace(fired, esc_step=walk.step, esc_round=walk.round, esc_due=walk.due)
        entry.policy = policy
        out.keep(fp, entry)
    out.write(fp, entry.partition, fired)
    out.decisions.append((fp, "heartbeat:missing"))
    return out
