"""The evaluator core: a batch of validated events -> alert records and state writes.

Still pure (no Kafka, no Faust): state is read through a ``get`` callable and handed back as a
list of writes, so the worker can apply each touched key once per batch (one changelog record
per key per batch instead of one per event) and tests can use a dict.

Per event: the rules watching it produce observations (:mod:`alertstream.streams.rules`); each is folded into
its fingerprint's state (:mod:`alertstream.streams.dedup`); a firing notification passes the rate limiter
(:mod:`alertstream.streams.rate_limit`), is routed (:mod:`alertstream.streams.routing`) and sanitised
(:mod:`alertstream.streams.sanitise`) into an ``Alert`` record.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from alertstream.schemas.config import AlertstreamConfig
from alertstream.schemas.events import DriftEvent, MetricEvent
from alertstream.schemas.external_alerts_config import ExternalAlertsSection
from alertstream.schemas.rules_config import RateLimitSection
from alertstream.streams.dedup import Decision, EpisodeState, deny, expired, step, suppression_breakdown
from alertstream.streams.fingerprint import drift_entity, metric_entity
from alertstream.streams.rate_limit import RateLimiter, WindowCounts
from alertstream.streams.routing import Router
from alertstream.streams.rules import Observation, RuleSet
from alertstream.streams.sanitise import Redaction, details_json, redact_text, summary_text

Event = MetricEvent | DriftEvent
#: A key this batch has not read yet (None in the batch's cache is "read: no state").
_UNREAD: Any = object()
#: A stored state value: [partition, EpisodeState row]; the partition lets expiry delete it.
StoredState = list[Any]


@dataclass(frozen=True)
class Compiled:
    """One config version, ready to evaluate with."""

    rules: RuleSet
    router: Router
    limits: RateLimitSection
    version: int
    redaction: Redaction = field(default_factory=Redaction)
    #: How alerts from other systems are evaluated (:mod:`alertstream.streams.external_alerts`).
    external: ExternalAlertsSection = field(default_factory=ExternalAlertsSection)
    #: The validated document itself (the lifecycle compiles its own sections from it).
    config: AlertstreamConfig | None = None

    @classmethod
    def from_config(cls, config: AlertstreamConfig) -> Compiled:
        """Compile a validated config (``parse_config`` has checked that routes name receivers)."""
        receivers = {r.name: r.channel for r in config.receivers}
        return cls(
            RuleSet(config.rules),
            Router(config.routes, receivers),
            config.rate_limits,
            config.version,
            Redaction.from_config(config.redaction),
            config.external_alerts,
            config,
        )


@dataclass(frozen=True, slots=True)
class AlertOut:
    """One record for ``alerts``: key = fingerprint."""

    fingerprint: str
    record: dict[str, Any]
    occurred_at: int


@dataclass
class BatchResult:
    alerts: list[AlertOut] = field(default_factory=list)
    #: fingerprint -> (partition, row or None = delete)
    writes: dict[str, tuple[int, list[Any] | None]] = field(default_factory=dict)
    suppressed: Counter[str] = field(default_factory=Counter)
    #: The same suppressions by (rule id, reason): the backtest reports them per rule.
    suppressed_by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)


def alert_id(fingerprint: str, status: str, at: int, reason: str) -> str:
    """Deterministic: a redelivered event that re-emits the same alert gives it the same id,
    so idempotent sinks (PostgreSQL, delivery ledgers) drop the duplicate."""
    return hashlib.sha256(f"{fingerprint}|{status}|{at}|{reason}".encode()).hexdigest()[:32]


def _summary(obs: Observation, entity: str, status: str, severity: str) -> str:
    rule = obs.rule
    what = str(obs.details.get("metric") or obs.details.get("drift_type") or rule.id)
    if status == "resolved":
        return summary_text(f"RESOLVED {rule.id}: {what} on {entity} ({obs.tenant}) back to {obs.value:g}")
    return summary_text(
        f"[{severity}] {rule.id}: {what} on {entity} ({obs.tenant}) is {obs.value:g} "
        f"({rule.operator} {obs.threshold:g})"
    )


def shown_entity(obs: Observation, redaction: Redaction) -> str:
    """The entity as it leaves the evaluator: built like the real one (:mod:`.fingerprint`) from
    redacted parts. The fingerprint keeps hashing the real one."""
    rule = obs.rule
    if rule.kind == "metric":
        labels = {k: redaction.entity_label(k, v) for k, v in obs.labels.items() if k in rule.group_by}
        return metric_entity(redact_text(str(obs.details.get("source", ""))), labels, rule.group_by)
    cpt_group = obs.details.get("cpt_group")
    payer = redact_text(str(obs.details.get("payer", "")))
    return drift_entity(payer, redact_text(str(cpt_group)) if cpt_group else None)


class Evaluator:
    """Evaluates batches against the current :class:`Compiled` config (swappable at any time)."""

    def __init__(self, compiled: Compiled, clock: Callable[[], float] = time.time) -> None:
        self.compiled = compiled
        self.clock = clock
        #: Rate-limit counts, shared with the other workers through the worker's rate topic.
        self.counts = WindowCounts()
        self.limiter = RateLimiter(compiled.limits, self.counts)
        #: Keys the current expiry sweep has still to look at (:meth:`expire_slice`).
        self._sweep: list[str] = []

    def reconfigure(self, compiled: Compiled) -> None:
        """A new config version: new rules, routes and limits apply from the next event on."""
        if compiled.limits != self.compiled.limits:
            self.limiter = RateLimiter(compiled.limits, self.counts)
        self.compiled = compiled

    def process(self, events: Sequence[tuple[int, Event]], get: Callable[[str], StoredState | None]) -> BatchResult:
        """Evaluate ``events`` (each with its source partition) in order."""
        now = int(self.clock() * 1000)
        rules = self.compiled.rules
        metric, drift = rules.metric, rules.drift
        result = BatchResult()
        suppressed, suppressed_by_rule = result.suppressed, result.suppressed_by_rule
        #: the newest state of every key read or written in this batch (None = no state)
        cache: dict[str, Any] = {}
        #: keys whose state this batch changed: (partition of the last change, new state)
        changed: dict[str, tuple[int, EpisodeState | None]] = {}
        from_row = EpisodeState.from_row
        for partition, event in events:
            for obs in metric(event) if type(event) is MetricEvent else drift(event):  # type: ignore[arg-type]
                fp = obs.fingerprint
                before = cache.get(fp, _UNREAD)
                if before is _UNREAD:
                    stored = get(fp)
                    before = from_row(stored[1]) if stored else None
                after, decision = step(before, obs, now)
                action = decision.action
                if action == "none":
                    pass
                elif action == "fire":
                    admission = self.limiter.admit(obs.tenant, decision.severity, obs.at, partition)
                    if not admission.emit:
                        assert after is not None
                        after = deny(before, after)
                        suppressed["rate_limit"] += 1
                        suppressed_by_rule[(obs.rule.id, "rate_limit")] += 1
                    else:
                        result.alerts.append(self._alert(obs, decision, "firing", admission.rate_limited, now))
                elif action == "resolve":
                    result.alerts.append(self._alert(obs, decision, "resolved", False, now))
                elif action == "drop" or decision.reason != "pending":
                    suppressed[decision.reason] += 1  # late / out_of_order / dedup / grouped
                    suppressed_by_rule[(obs.rule.id, decision.reason)] += 1
                cache[fp] = after  # also when unchanged: the next event of this key skips the table
                if after is not before:
                    changed[fp] = (partition, after)
        # each changed key's row is built once per batch, from its last state
        result.writes = {fp: (p, None if st is None else st.to_row()) for fp, (p, st) in changed.items()}
        return result

    def _alert(self, obs: Observation, d: Decision, status: str, rate_limited: bool, now: int) -> AlertOut:
        rule = obs.rule
        details = {
            "rule": rule.id,
            "description": rule.description,
            "operator": rule.operator,
            "reason": d.reason,
            "suppressed_by_reason": suppression_breakdown(d.suppressed_count, d.suppressed_by_reason),
            **obs.details,
        }
        # routing sees the real labels (it is internal); everything in the record is redacted
        routes = self.compiled.router.routes(obs.tenant, d.severity, rule.id, status, obs.labels, obs.entity)
        redaction = self.compiled.redaction
        entity = shown_entity(obs, redaction)
        record: dict[str, Any] = {
            "alert_id": alert_id(obs.fingerprint, status, obs.at, d.reason),
            "tenant": obs.tenant,
            "rule_id": rule.id,
            "rule_version": self.compiled.version,
            "status": status,
            "severity": d.severity,
            "fingerprint": obs.fingerprint,
            "entity": entity,
            "summary": _summary(obs, entity, status, d.severity),
            "details": details_json(details),
            "labels": redaction.labels(obs.labels),
            "value": obs.value,
            "threshold": obs.threshold,
            "occurrence_count": d.occurrence_count,
            "suppressed_count": d.suppressed_count,
            "first_seen": d.first_seen,
            "last_seen": d.last_seen,
            "emitted_at": now,
            "event_ids": list(d.event_ids),
            "routes": [{"receiver": r.receiver, "channel": r.channel} for r in routes],
            "rate_limited": rate_limited,
        }
        return AlertOut(obs.fingerprint, record, obs.at)

    def expire_slice(
        self, keys: Callable[[], Collection[str]], get: Callable[[str], Any], limit: int
    ) -> list[tuple[str, int]]:
        """(fingerprint, partition) of expired states among the next ``limit`` keys of a sweep.

        Incremental so that no tick holds the event loop for long: a sweep walks a snapshot of the
        keys (``keys()``, taken when the previous sweep is done: one C-level copy) ``limit`` keys
        per call, re-reading each through ``get`` (gone or touched since: skipped). A state lives
        at most one sweep longer than its expiry — memory stays bounded.
        """
        if not self._sweep:
            self._sweep = list(keys())
        batch = self._sweep[-limit:]
        del self._sweep[-limit:]
        now = int(self.clock() * 1000)
        out: list[tuple[str, int]] = []
        for fp in batch:
            stored = get(fp)
            if stored and expired(EpisodeState.from_row(stored[1]), now):
                out.append((fp, int(stored[0])))
        return out

    def expire_counts(self) -> list[tuple[str, int]]:
        """Drop rate-limit windows that have ended; returns their (window key, partition)."""
        return self.limiter.expire(int(self.clock() * 1000))
