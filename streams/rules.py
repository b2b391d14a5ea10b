"""Rule evaluation: one event + the matching rules -> one :class:`Observation` per rule.

Pure functions over the validated config models (:mod:`alertstream.schemas.rules_config`) and the frozen
event dataclasses (:mod:`alertstream.schemas.events`). An observation says what *this* event means for one
fingerprint — which severity it breaches (if any) and whether it is past the clear threshold; the
stateful part (``for``, hysteresis across events, dedup, resolve) is :mod:`alertstream.streams.dedup`.

Rules are indexed and compiled once per config version by metric name / drift type, so the
per-event cost is a dict lookup plus the few rules that watch that metric.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

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


#: A shared empty mapping: the default labels/details of an observation (never mutated).
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Observation(NamedTuple):
    """What one event means for one rule's fingerprint.

    Immutable; a tuple rather than a frozen dataclass because one is built for every event and
    rule (a 12-field frozen dataclass took ~5x longer to build, which was most of the cost of
    evaluating a healthy event).
    """

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
    labels: Mapping[str, str] = _EMPTY
    details: Mapping[str, object] = _EMPTY


def _labels_match(wanted: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}
_new_observation = tuple.__new__
#: Fingerprints remembered per rule ((tenant, entity) -> fingerprint); the map is emptied when
#: full, so memory stays bounded whatever the number of entities (~1 MB per rule at most).
FINGERPRINT_CACHE = 4096


class _Watch:
    """One rule compiled for per-event use: its comparisons, levels and clear test resolved once
    (not per event through :func:`breach`/:func:`cleared`, which stay the definition), and a
    bounded map of the fingerprints it computed (SHA-256 of the same text every time)."""

    __slots__ = ("clear", "compare", "fingerprints", "group_by", "labels", "levels", "mildest", "rule", "tenant")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.tenant = rule.tenant
        self.labels = rule.labels
        self.group_by = tuple(rule.group_by)
        self.compare = _OPERATORS[rule.operator]
        self.levels = tuple(rule.levels())
        self.mildest = self.levels[-1][1]
        #: None: cleared = breaches nothing (no ``clear``, or ``==``); else the clear threshold.
        self.clear = None if rule.clear is None or rule.operator == "==" else rule.clear
        self.fingerprints: dict[tuple[str, str], str] = {}

    def fingerprint(self, tenant: str, entity: str) -> str:
        key = (tenant, entity)
        fp = self.fingerprints.get(key)
        if fp is None:
            if len(self.fingerprints) >= FINGERPRINT_CACHE:
                self.fingerprints.clear()
            fp = self.fingerprints[key] = fingerprint(self.rule.id, tenant, entity)
        return fp

    def observe(
        self,
        tenant: str,
        entity: str,
        at: int,
        event_id: str,
        value: float,
        labels: Mapping[str, str],
        details: Mapping[str, object],
    ) -> Observation:
        """:func:`breach` and :func:`cleared` of ``value``, in one pass over the compiled levels."""
        compare = self.compare
        severity: Severity | None = None
        threshold = self.mildest
        for level, limit in self.levels:
            if compare(value, limit):
                severity, threshold = level, limit
                break
        clear = self.clear
        is_cleared = severity is None if clear is None else not compare(value, clear)
        fp = self.fingerprints.get((tenant, entity)) or self.fingerprint(tenant, entity)  # (one call less when known)
        return _new_observation(  # the tuple itself: the generated __new__ is a Python call per event
            Observation,
            (
                self.rule,
                fp,
                tenant,
                entity,
                at,
                event_id,
                value,
                severity,
                threshold,
                is_cleared,
                labels,
                details,
            ),
        )


class RuleSet:
    """The rules of one config version, indexed (and compiled) for per-event lookup."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._by_metric: dict[str, list[_Watch]] = defaultdict(list)
        self._by_drift: dict[str, list[_Watch]] = defaultdict(list)
        for rule in rules:
            if rule.kind == "metric" and rule.metric:
                self._by_metric[rule.metric].append(_Watch(rule))
            elif rule.drift_type:
                self._by_drift[rule.drift_type].append(_Watch(rule))

    def metric(self, event: MetricEvent) -> list[Observation]:
        watches = self._by_metric.get(event.metric)
        if not watches:
            return []
        out = []
        tenant, labels, source = event.tenant, event.labels, event.source
        for w in watches:
            if w.tenant is not None and w.tenant != tenant:
                continue
            if w.labels and not _labels_match(w.labels, labels):
                continue
            entity = metric_entity(source, labels, w.group_by) if w.group_by else source
            details = {"metric": event.metric, "source": source}
            out.append(w.observe(tenant, entity, event.occurred_at, event.event_id, event.value, labels, details))
        return out

    def drift(self, event: DriftEvent) -> list[Observation]:
        watches = self._by_drift.get(event.drift_type)
        if not watches:
            return []
        out = []
        for w in watches:
            rule = w.rule
            if w.tenant is not None and w.tenant != event.tenant:
                continue
            if w.labels and not _labels_match(w.labels, event.labels):
                continue
            if rule.min_sample_count and (event.sample_count or 0) < rule.min_sample_count:
                continue
            delta = drift_delta(rule, event)
            if delta is None:
                continue
            details = {
                "drift_type": event.drift_type,
                "payer": event.payer,
                "cpt_group": event.cpt_group,
                "baseline_value": event.baseline_value,
                "current_value": event.current_value,
                "sample_count": event.sample_count,
                "delta": rule.delta,
            }
            entity = drift_entity(event.payer, event.cpt_group)
            out.append(w.observe(event.tenant, entity, event.occurred_at, event.event_id, delta, event.labels, details))
        return out
