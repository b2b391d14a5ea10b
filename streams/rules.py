"""Rule evaluation: one event + the matching rules -> one :class:`Observation` per rule.

Pure functions over the validated config models (:mod:`alertstream.schemas.rules_config`) and the frozen
event dataclasses (:mod:`alertstream.schemas.events`). An observation says what *this* event means for one
fingerprint — which severity it breaches (if any) and whether it is past the clear threshold; the
stateful part (``for``, hysteresis across events, dedup, resolve) is :mod:`alertstream.streams.dedup`.

Rules are indexed once per config version by metric name / drift type, so the per-event cost is
a dict lookup plus the few rules that watch that metric.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alertstream.schemas.events import DriftEvent, MetricEvent
from alertstream.schemas.rules_config import Operator, Rule, Severity
from alertstream.streams.fingerprint import drift_entity, fingerprint, metric_entity


def compare(op: Operator, value: float, threshold: float) -> bool:
    """``value <op> threshold``."""
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    if op == "<":
        return value < threshold
    if op == "<=":
        return value <= threshold
    return value == threshold


def breach(rule: Rule, value: float) -> tuple[Severity | None, float]:
    """The most severe level ``value`` breaches and its threshold; (None, mildest) when none."""
    levels = rule.levels()
    for severity, threshold in levels:
        if compare(rule.operator, value, threshold):
            return severity, threshold
    return None, levels[-1][1]


def cleared(rule: Rule, value: float) -> bool:
    """Past the clear threshold: a firing alert may resolve. Without ``clear`` = not breaching."""
    if rule.clear is None or rule.operator == "==":
        return breach(rule, value)[0] is None
    return not compare(rule.operator, value, rule.clear)


def drift_delta(rule: Rule, event: DriftEvent) -> float | None:
    """Current vs baseline, relative or absolute; None when a relative delta has a zero baseline."""
    diff = event.current_value - event.baseline_value
    if rule.delta == "absolute":
        return diff
    if event.baseline_value == 0:
        return None
    return diff / abs(event.baseline_value)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one event means for one rule's fingerprint."""

    rule: Rule
    fingerprint: str
    tenant: str
    entity: str
    at: int
    event_id: str
    value: float
    severity: Severity | None
    threshold: float
    cleared: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, object] = field(default_factory=dict)


def _labels_match(wanted: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def _observe(
    rule: Rule, tenant: str, entity: str, at: int, event_id: str, value: float, **extra: object
) -> Observation:
    severity, threshold = breach(rule, value)
    labels = extra.pop("labels", {})
    assert isinstance(labels, Mapping)
    return Observation(
        rule=rule,
        fingerprint=fingerprint(rule.id, tenant, entity),
        tenant=tenant,
        entity=entity,
        at=at,
        event_id=event_id,
        value=value,
        severity=severity,
        threshold=threshold,
        cleared=cleared(rule, value),
        labels=labels,
        details=extra,
    )


class RuleSet:
    """The rules of one config version, indexed for per-event lookup."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._by_metric: dict[str, list[Rule]] = defaultdict(list)
        self._by_drift: dict[str, list[Rule]] = defaultdict(list)
        for rule in rules:
            if rule.kind == "metric" and rule.metric:
                self._by_metric[rule.metric].append(rule)
            elif rule.drift_type:
                self._by_drift[rule.drift_type].append(rule)

    def metric(self, event: MetricEvent) -> list[Observation]:
        out = []
        for rule in self._by_metric.get(event.metric, ()):
            if rule.tenant is not None and rule.tenant != event.tenant:
                continue
            if rule.labels and not _labels_match(rule.labels, event.labels):
                continue
            entity = metric_entity(event.source, event.labels, rule.group_by)
            out.append(
                _observe(
                    rule,
                    event.tenant,
                    entity,
                    event.occurred_at,
                    event.event_id,
                    event.value,
                    labels=event.labels,
                    metric=event.metric,
                    source=event.source,
                )
            )
        return out

    def drift(self, event: DriftEvent) -> list[Observation]:
        out = []
        for rule in self._by_drift.get(event.drift_type, ()):
            if rule.tenant is not None and rule.tenant != event.tenant:
                continue
            if rule.labels and not _labels_match(rule.labels, event.labels):
                continue
            if rule.min_sample_count and (event.sample_count or 0) < rule.min_sample_count:
                continue
            delta = drift_delta(rule, event)
            if delta is None:
                continue
            out.append(
                _observe(
                    rule,
                    event.tenant,
                    drift_entity(event.payer, event.cpt_group),
                    event.occurred_at,
                    event.event_id,
                    delta,
                    labels=event.labels,
                    drift_type=event.drift_type,
                    payer=event.payer,
                    cpt_group=event.cpt_group,
                    baseline_value=event.baseline_value,
                    current_value=event.current_value,
                    sample_count=event.sample_count,
                    delta=rule.delta,
                )
            )
        return out
