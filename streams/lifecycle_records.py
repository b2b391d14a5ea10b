"""Alert records the lifecycle emits, built from the last record of the episode — pure.

Timers, user actions and released holds happen without an event, so there is no observation to
build a record from; the lifecycle keeps the episode's last firing record (already routed,
sanitised and redacted by the evaluator) as a *template* in its changelogged table and derives
every later record from it: the same tenant, rule, entity, labels and summary, a new ``alert_id``
(deterministic: from the fingerprint, what happened and when, so a re-run after a crash gives the
same id and the idempotent sinks keep one), and ``details`` extended with the lifecycle's facts
(``suppression``, ``acknowledgement``, ``escalation``) that the API's explain shows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from alertstream.streams.dedup import EpisodeState
from alertstream.streams.evaluator import AlertOut, alert_id
from alertstream.streams.sanitise import details_json, redact_text, summary_text
from alertstream.streams.suppression import Hold

Record = dict[str, Any]
#: Channels that have the notion of an acknowledgement: PagerDuty (`acknowledge` on the dedup key)
#: and webhooks (an event). Slack and e-mail are not sent acknowledgements.
ACK_CHANNELS = frozenset({"pagerduty", "webhook"})
#: Unacknowledging has no PagerDuty counterpart: webhooks only.
UNACK_CHANNELS = frozenset({"webhook"})


def details_of(record: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(record.get("details") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def derive(
    template: Mapping[str, Any],
    *,
    status: str,
    event: str,
    reason: str,
    at: int,
    now: int,
    id_reason: str,
    routes: Iterable[Mapping[str, str]] | None = None,
    facts: Mapping[str, Any] | None = None,
    **fields: Any,
) -> AlertOut:
    """A new record from ``template``: ``alert_id`` from (fingerprint, status/event, ``at``,
    ``id_reason``); ``details.reason`` = ``reason`` plus ``facts``; other fields as given."""
    record: Record = dict(template)
    details = details_of(template)
    details["reason"] = reason
    for key, value in (facts or {}).items():
        details[key] = value
    fp = str(template["fingerprint"])
    record.update(
        alert_id=alert_id(fp, status if event == "notify" else event, at, id_reason),
        status=status,
        event=event,
        details=details_json(details),
        emitted_at=now,
        rate_limited=False,
    )
    if routes is not None:
        record["routes"] = [{"receiver": r["receiver"], "channel": r["channel"]} for r in routes]
    if status == "resolved" and "summary" not in fields:
        record["summary"] = summary_text(f"RESOLVED {template.get('rule_id')}: {template.get('entity')} ({reason})")
    record.update(fields)
    return AlertOut(fp, record, at)


def routes_for(
    template: Mapping[str, Any], channels: frozenset[str], extra: Iterable[Mapping[str, str]] = ()
) -> list[dict[str, str]]:
    """The template's routes (and ``extra``, e.g. receivers an escalation paged) of ``channels``."""
    return [r for r in and_paged(template.get("routes") or [], extra) if r["channel"] in channels]


def and_paged(routes: Iterable[Mapping[str, str]], paged: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """``routes`` and the receivers an escalation paged (once each, first route kept): whoever was
    told an alert fires is told it ended."""
    out: dict[str, dict[str, str]] = {}
    for r in [*routes, *paged]:
        out.setdefault(r["receiver"], {"receiver": r["receiver"], "channel": r["channel"]})
    return list(out.values())


def comment_text(text: str) -> str:
    """A user's comment as it may appear on an alert (PII patterns redacted, bounded)."""
    return redact_text(text)[:512]


def nodata_fingerprint(fp: str) -> str:
    """The fingerprint of an episode's ``nodata`` alert: its own key, so that it fires and
    resolves beside the episode's alert rather than in its place."""
    return hashlib.sha256(f"{fp}:nodata".encode()).hexdigest()[:32]


def nodata_record(template: Mapping[str, Any], state: EpisodeState, status: str, at: int, now: int) -> AlertOut:
    """The ``nodata`` alert of the episode of ``template`` (firing when its events stopped,
    resolved when they came back or the episode ended)."""
    nodata = {**template, "fingerprint": nodata_fingerprint(str(template["fingerprint"]))}
    rule = template.get("rule_id")
    summary = (
        f"NO DATA {rule}: no events from {template.get('entity')} ({template.get('tenant')}) since the alert fired"
        if status == "firing"
        else f"RESOLVED no data {rule}: {template.get('entity')} reports again"
    )
    return derive(
        nodata,
        status=status,
        event="notify",
        reason="nodata",
        at=at,
        now=now,
        id_reason=f"nodata:{state.nodata_at}",
        facts={"nodata": {"of_fingerprint": template["fingerprint"], "since": state.touched}},
        summary=summary_text(summary),
        labels={**(template.get("labels") or {}), "alertstate": "nodata"},
        rate_limited=False,
    )


def nodata_resolved(template: Mapping[str, Any], before: EpisodeState, now: int) -> AlertOut:
    return nodata_record(template, before, "resolved", before.nodata_at, now)


def suppressed_record(record: Mapping[str, Any], hold: Hold, now: int) -> AlertOut:
    """The record of a held notification: stored and audited, routed nowhere."""
    return derive(
        record,
        status="firing",
        event="suppressed",
        reason=hold.reason,
        at=int(record["last_seen"]),
        now=now,
        id_reason=hold.key,
        routes=[],
        facts={"suppression": hold.facts()},
    )
