"""Alerts from other systems (``events.alerts``), evaluated like the rules' observations.

Pure, like :mod:`alertstream.streams.evaluator`: events and state in (a ``get`` callable), alert
records and state writes out (a :class:`~alertstream.streams.evaluator.BatchResult`). One received
alert is one :class:`~alertstream.streams.rules.Observation` of its fingerprint (tenant + label set,
:func:`alertstream.schemas.external_alerts.fingerprint`), folded by the same state machine
(:func:`alertstream.streams.dedup.step`) with the windows of the ``external_alerts:`` section, then
rate limited, routed and sanitised like every alert.

**Alertmanager's end-time semantics** (``api/v2`` + ``types.Alert.Merge`` of Alertmanager 0.25):

* an alert without ``endsAt`` ends ``resolve_timeout`` after it was received (default 5 min);
  sending it again moves that end (:func:`merged_end`);
* an explicit ``endsAt`` wins over a timeout; a later explicit end is not shortened by an update
  without one, nor by an earlier explicit one, while the alert is still firing;
* an ``endsAt`` not after the time it was received resolves the alert at once.

The end time is kept in the episode's state (``EpisodeState.ends_at``, changelogged like the rest),
so the worker resolves a firing alert whose end passed **without any new event**: the timer of
:mod:`alertstream.streams.external_timer` feeds :meth:`ExternalEvaluator.resolve_due`. An update
that arrives after the end of the current episode first resolves it (at its end), then starts a
new one: the outcome does not depend on whether the timer ran first. A resolution is the same
observation either way (``at`` = the end), so its ``alert_id`` is the same too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alertstream.schemas.external_alerts import TENANT_LABEL, ExternalAlertEvent
from alertstream.schemas.external_alerts_config import ExternalAlertsSection
from alertstream.schemas.rules_config import Rule
from alertstream.streams.dedup import Decision, EpisodeState, deny, replace, step, suppression_breakdown
from alertstream.streams.evaluator import AlertOut, BatchResult, Evaluator, StoredState, alert_id
from alertstream.streams.rules import Observation
from alertstream.streams.sanitise import details_json, redact_text, sanitise_dict, summary_text

#: ``Alert.rule_id`` of an external alert without an ``alertname`` label.
NO_ALERTNAME = "external"
#: The id of the rule-shaped settings the state machine reads (``EpisodeState.rule_id``).
RULE_ID = "external-alerts"
#: A resolution by end time is never refused as late (a worker that was down still resolves).
TIMER_LATENESS_S = 7 * 86_400


def is_external(state: EpisodeState) -> bool:
    return state.external is not None


@dataclass(frozen=True)
class ExternalRules:
    """One ``external_alerts:`` section compiled for the state machine."""

    section: ExternalAlertsSection
    rule: Rule
    timer_rule: Rule

    @classmethod
    def compile(cls, section: ExternalAlertsSection) -> ExternalRules:
        rule = Rule(
            id=RULE_ID,
            metric="external",
            warning=0.0,
            dedup_window_seconds=section.dedup_window_seconds,
            group_window_seconds=section.group_window_seconds,
            repeat_interval_seconds=section.repeat_interval_seconds,
            max_lateness_seconds=section.max_lateness_seconds,
        )
        return cls(section, rule, rule.model_copy(update={"max_lateness_seconds": TIMER_LATENESS_S}))


def merged_end(state: EpisodeState | None, event: ExternalAlertEvent, resolve_timeout_ms: int) -> tuple[int, bool]:
    """(end time, whether it comes from the resolve timeout) after ``event``: Alertmanager's Merge."""
    if event.ends_at is None:
        end, timeout = event.received_at + resolve_timeout_ms, True
    else:
        end, timeout = event.ends_at, False
    if end <= event.received_at:  # resolved by this update
        return end, timeout
    ext = state.external if state is not None and state.phase == "firing" else None
    if state is not None and ext is not None and state.ends_at > end and not ext.get("timeout", True):
        return state.ends_at, False  # a later explicit end is kept
    return end, timeout


def entity_of(labels: dict[str, str] | Any) -> str:
    """What the alert is about: its labels but ``alertname`` and ``tenant``, sorted (``k=v,...``)."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels) if k not in ("alertname", TENANT_LABEL))


class ExternalEvaluator:
    """Evaluates ``events.alerts`` with the rate limiter, routes and redaction of ``evaluator``
    (whatever config version it has: reconfiguring the evaluator reconfigures this too)."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self._compiled: tuple[ExternalAlertsSection, ExternalRules] | None = None

    @property
    def rules(self) -> ExternalRules:
        section = self.evaluator.compiled.external
        if self._compiled is None or self._compiled[0] is not section:
            self._compiled = (section, ExternalRules.compile(section))
        return self._compiled[1]

    # -- a batch of received alerts ---------------------------------------------------------------

    def process(
        self,
        events: Sequence[tuple[int, ExternalAlertEvent]],
        get: Callable[[str], StoredState | None],
        result: BatchResult | None = None,
    ) -> BatchResult:
        """Fold ``events`` (each with its source partition) into their states, in order."""
        out = result if result is not None else BatchResult()
        rules = self.rules
        now = int(self.evaluator.clock() * 1000)
        timeout_ms = int(rules.section.resolve_timeout_seconds * 1000)
        cache: dict[str, EpisodeState | None] = {}
        for partition, event in events:
            fp = event.fingerprint
            before = cache[fp] if fp in cache else self._read(fp, get)
            state = before
            if state is not None and state.phase == "firing" and 0 < state.ends_at <= event.received_at:
                state = self._resolve_at_end(fp, partition, state, now, out)  # the episode ended first
            end, timeout = merged_end(state, event, timeout_ms)
            resolved = end <= event.received_at
            context = {
                "tenant": event.tenant,
                "labels": dict(event.labels),
                "annotations": sanitise_dict(event.annotations),
                "starts_at": event.starts_at,
                "generator_url": event.generator_url[:2048],
                "timeout": timeout,
            }
            severity = None if resolved else rules.section.severity(event.labels)
            # suppressions are counted under the rule id the alert's records carry (the backtest
            # reports them per rule beside its notifications)
            rule_id = event.labels.get("alertname") or NO_ALERTNAME
            obs = self._observation(fp, event.tenant, event.labels, event.received_at, event.event_id, severity)
            after, decision = step(state, obs, now)
            if decision.action == "drop":
                out.suppressed[decision.reason] += 1
                out.suppressed_by_rule[(rule_id, decision.reason)] += 1
                after = state
            elif after is not None:
                kept_until = 0 if resolved else end
                ttl = max(after.ttl_ms, int(rules.section.group_window_seconds * 1000) + max(0, kept_until - now))
                after = replace(after, ends_at=kept_until, external=context, ttl_ms=ttl)
                if decision.action == "fire":
                    admission = self.evaluator.limiter.admit(event.tenant, decision.severity, obs.at, partition)
                    if not admission.emit:
                        after = deny(state, after)
                        out.suppressed["rate_limit"] += 1
                        out.suppressed_by_rule[(rule_id, "rate_limit")] += 1
                    else:
                        out.alerts.append(self._alert(fp, after, decision, "firing", admission.rate_limited, now))
                elif decision.action == "resolve":
                    out.alerts.append(self._alert(fp, after, decision, "resolved", False, now))
                elif decision.action == "suppress" and decision.reason != "pending":
                    out.suppressed[decision.reason] += 1
                    out.suppressed_by_rule[(rule_id, decision.reason)] += 1
            cache[fp] = after
            if after is not before:
                out.writes[fp] = (partition, after.to_row() if after else None)
        return out

    # -- resolutions by end time (the timer) -----------------------------------------------------

    def resolve_due(
        self, due: Iterable[str], get: Callable[[str], StoredState | None], result: BatchResult | None = None
    ) -> BatchResult:
        """Resolve the firing external alerts among ``due`` whose end time has passed."""
        out = result if result is not None else BatchResult()
        now = int(self.evaluator.clock() * 1000)
        for fp in due:
            stored = get(fp)
            if not stored:
                continue
            state = EpisodeState.from_row(stored[1])
            if state.phase == "firing" and state.external is not None and 0 < state.ends_at <= now:
                self._resolve_at_end(fp, int(stored[0]), state, now, out)
        return out

    def _resolve_at_end(self, fp: str, partition: int, state: EpisodeState, now: int, out: BatchResult) -> EpisodeState:
        """The resolution of a firing alert at its end time; records the write in ``out``."""
        ctx = state.external or {}
        rule = self.rules.timer_rule
        obs = self._observation(fp, str(ctx.get("tenant", "")), ctx.get("labels") or {}, state.ends_at, "", None, rule)
        after, decision = step(state, obs, now)
        if after is None or decision.action == "drop":
            return state
        after = replace(after, ends_at=0)
        if decision.action == "resolve":
            out.alerts.append(self._alert(fp, after, decision, "resolved", False, now, ended=True))
        out.writes[fp] = (partition, after.to_row())
        return after

    # -- building blocks --------------------------------------------------------------------------

    def _read(self, fp: str, get: Callable[[str], StoredState | None]) -> EpisodeState | None:
        stored = get(fp)
        return EpisodeState.from_row(stored[1]) if stored else None

    def _observation(
        self,
        fp: str,
        tenant: str,
        labels: Any,
        at: int,
        event_id: str,
        severity: Any,
        rule: Rule | None = None,
    ) -> Observation:
        return Observation(
            rule=rule or self.rules.rule,
            fingerprint=fp,
            tenant=tenant,
            entity=entity_of(labels),
            at=at,
            event_id=event_id,
            value=0.0,
            severity=severity,
            threshold=0.0,
            cleared=severity is None,
            labels=labels,
        )

    def _alert(
        self,
        fp: str,
        state: EpisodeState,
        d: Decision,
        status: str,
        rate_limited: bool,
        now: int,
        *,
        ended: bool = False,
    ) -> AlertOut:
        compiled = self.evaluator.compiled
        ctx = state.external or {}
        tenant = str(ctx.get("tenant", ""))
        labels: dict[str, str] = dict(ctx.get("labels") or {})
        annotations: dict[str, Any] = dict(ctx.get("annotations") or {})
        alertname = labels.get("alertname") or NO_ALERTNAME
        at = d.last_seen
        routes = compiled.router.routes(tenant, d.severity, alertname, status, labels, entity_of(labels))
        redaction = compiled.redaction
        shown = redaction.labels(labels)
        entity = redact_text(entity_of(shown))
        text = str(annotations.get("summary") or annotations.get("description") or entity)
        prefix = "RESOLVED " if status == "resolved" else f"[{d.severity}] "
        details = {
            "source": "external",
            "reason": d.reason,
            "suppressed_by_reason": suppression_breakdown(d.suppressed_count, d.suppressed_by_reason),
            "ended": ended,
            "starts_at": ctx.get("starts_at"),
            "ends_at": at if status == "resolved" else state.ends_at,
            "generator_url": ctx.get("generator_url", ""),
            "annotations": annotations,
        }
        record: dict[str, Any] = {
            "alert_id": alert_id(fp, status, at, d.reason),
            "tenant": tenant,
            "rule_id": alertname,
            "rule_version": compiled.version,
            "status": status,
            "severity": d.severity,
            "fingerprint": fp,
            "entity": entity,
            "summary": summary_text(f"{prefix}{alertname}: {text} ({tenant})"),
            "details": details_json(details),
            "labels": shown,
            "value": None,
            "threshold": None,
            "occurrence_count": d.occurrence_count,
            "suppressed_count": d.suppressed_count,
            "first_seen": d.first_seen,
            "last_seen": at,
            "emitted_at": now,
            "event_ids": list(d.event_ids),
            "routes": [{"receiver": r.receiver, "channel": r.channel} for r in routes],
            "rate_limited": rate_limited,
        }
        return AlertOut(fp, record, at)


def split(
    items: Sequence[tuple[int, Any]],
) -> tuple[list[tuple[int, Any]], list[tuple[int, ExternalAlertEvent]]]:
    """A batch's events in two lists: the rules' input and the received alerts (order kept in each)."""
    ours: list[tuple[int, Any]] = []
    external: list[tuple[int, ExternalAlertEvent]] = []
    for item in items:
        (external if isinstance(item[1], ExternalAlertEvent) else ours).append(item)
    return ours, external


def evaluate(
    evaluator: Evaluator,
    external: ExternalEvaluator,
    items: Sequence[tuple[int, Any]],
    get: Callable[[str], StoredState | None],
) -> BatchResult:
    """One batch of every input topic: the rules' events through ``evaluator``, the received alerts
    through ``external``, into one result. The worker's and the backtest's one way to evaluate."""
    ours, received = split(items)
    result = evaluator.process(ours, get)
    return external.process(received, get, result) if received else result
