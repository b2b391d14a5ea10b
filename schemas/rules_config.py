"""Config models owned by the evaluator (streams/): the rule language and the routing tree.

A rule is data: what to watch (a metric name, or a drift type), how to compare (operator and
per-severity thresholds), how long a breach must last before it fires (``for_count`` /
``for_seconds``), where it clears (``clear``: hysteresis, so values hovering at a threshold do not
flap), and how its alerts are deduplicated and grouped. Everything is checked at load so that a
typo or an impossible threshold order is a config error with a path, not a silent no-op.

Two kinds, told apart by ``kind`` (when it is left out: ``drift`` if ``drift_type`` is given):

* ``metric``: compares a :class:`~alertstream.schemas.events.MetricEvent` ``value``;
* ``drift``: compares the delta of a :class:`~alertstream.schemas.events.DriftEvent` — ``relative``
  ((current - baseline) / |baseline|) or ``absolute`` (current - baseline) — and ignores events
  whose ``sample_count`` is below ``min_sample_count`` (too few claims to mean anything).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertstream.schemas.lifecycle_config import MissingData

Operator = Literal[">", ">=", "<", "<=", "=="]
Severity = Literal["critical", "warning", "info"]

#: Most to least severe; a value breaching several levels gets the first one.
SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "warning", "info")
#: An alert's ``status`` values.
STATUSES = ("firing", "resolved")
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _RuleBase(_Strict):
    id: str = Field(min_length=1, max_length=128, pattern=_ID)
    tenant: str | None = Field(default=None, min_length=1, description="only this tenant; unset = every tenant")
    description: str = Field(default="", max_length=512)
    operator: Operator = ">"
    critical: float | None = None
    warning: float | None = None
    info: float | None = None
    clear: float | None = Field(
        default=None, description="a firing alert resolves only once the value no longer breaches this (hysteresis)"
    )
    for_count: int = Field(default=1, ge=1, le=10_000, description="consecutive breaching events before firing")
    for_seconds: float = Field(default=0, ge=0, le=86_400, description="breach must last this long (event time)")
    dedup_window_seconds: float = Field(default=600, gt=0, le=86_400)
    group_window_seconds: float = Field(default=86_400, gt=0, le=30 * 86_400)
    repeat_interval_seconds: float = Field(default=4 * 3600, ge=0, le=30 * 86_400)
    max_lateness_seconds: float = Field(
        default=3600,
        gt=0,
        le=7 * 86_400,
        description="events older than this (against the worker's clock) are refused as late, counted",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="only events carrying these labels")
    missing_data: MissingData | None = Field(default=None, description="when a firing episode's events stop")

    def levels(self) -> list[tuple[Severity, float]]:
        """(severity, threshold) pairs, most severe first, for the levels that are set."""
        values = {"critical": self.critical, "warning": self.warning, "info": self.info}
        return [(s, v) for s in SEVERITY_ORDER if (v := values[s]) is not None]

    @model_validator(mode="after")
    def _check_thresholds(self) -> _RuleBase:
        levels = self.levels()
        if not levels:
            raise ValueError("a rule needs at least one of critical, warning, info")
        values = [v for _, v in levels]
        op = self.operator
        if op == "==":
            if self.clear is not None:
                raise ValueError("clear is meaningless with operator ==")
        else:
            upward = op in (">", ">=")
            ordered = values == sorted(values, reverse=upward)
            if not ordered:
                order = "critical >= warning >= info" if upward else "critical <= warning <= info"
                raise ValueError(f"with operator {op} thresholds must be ordered {order}")
            mildest = values[-1]
            if self.clear is not None and (self.clear > mildest if upward else self.clear < mildest):
                side = "at or below" if upward else "at or above"
                raise ValueError(f"clear must be {side} the mildest threshold ({mildest}) for operator {op}")
        if self.group_window_seconds < self.dedup_window_seconds:
            raise ValueError("group_window_seconds must not be shorter than dedup_window_seconds")
        if self.repeat_interval_seconds > self.group_window_seconds:
            raise ValueError("repeat_interval_seconds must not exceed group_window_seconds")
        return self


class Rule(_RuleBase):
    """One rule. ``kind`` defaults to ``drift`` when ``drift_type`` is given, else ``metric``."""

    kind: Literal["metric", "drift"] = "metric"
    # -- metric rules --------------------------------------------------------------------------
    metric: str | None = Field(default=None, min_length=1, max_length=256)
    group_by: list[str] = Field(
        default_factory=list, max_length=8, description="labels that, with source, name the entity"
    )
    # -- drift rules ---------------------------------------------------------------------------
    drift_type: str | None = Field(default=None, min_length=1, max_length=64)
    delta: Literal["relative", "absolute"] = "relative"
    min_sample_count: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _default_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" not in data and "drift_type" in data:
            return {**data, "kind": "drift"}
        return data

    @model_validator(mode="after")
    def _check_kind(self) -> Rule:
        used = self.model_fields_set
        if self.kind == "metric":
            if not self.metric:
                raise ValueError("a metric rule needs metric")
            wrong = sorted(used & {"drift_type", "delta", "min_sample_count"})
            if wrong:
                raise ValueError(f"{', '.join(wrong)} not used by a metric rule")
        else:
            if not self.drift_type:
                raise ValueError("a drift rule needs drift_type")
            wrong = sorted(used & {"metric", "group_by"})
            if wrong:
                raise ValueError(f"{', '.join(wrong)} not used by a drift rule")
        return self


class RouteNode(_Strict):
    """One node of the routing tree (Alertmanager-style).

    An alert enters at the root and descends into the first child whose ``match`` fits (every
    key equal: ``tenant``, ``severity``, ``rule``/``rule_id``, ``status``, else a label name);
    with ``continue: true`` it also tries the following siblings. The deepest matching nodes'
    receivers (inherited from the parent when unset) are the alert's routes.
    """

    receiver: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    routes: list[RouteNode] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    #: Alertmanager's: no notification while one of these contains now (names of ``time_intervals``)
    mute_time_intervals: list[str] = Field(default_factory=list)
    #: ... and, when set, notifications only while one of these contains now
    active_time_intervals: list[str] = Field(default_factory=list)
    #: an unacknowledged firing alert routed here walks this policy (``escalation_policies``)
    escalation_policy: str | None = None


def route_nodes(root: RouteNode | None, path: str = "routes") -> Iterator[tuple[str, RouteNode]]:
    """Every node of the routing tree with its config path (``routes.routes[1]``), root first."""
    if root is None:
        return
    yield path, root
    for i, child in enumerate(root.routes):
        yield from route_nodes(child, f"{path}.routes[{i}]")


def match_problems(root: RouteNode | None) -> list[tuple[str, str]]:
    """Route matchers on ``severity``/``status`` whose value no alert can have, as (path, problem).

    ``severity: crit`` would otherwise be accepted and silently never match."""
    allowed = {"severity": ("a severity", SEVERITY_ORDER), "status": ("a status", STATUSES)}
    return [
        (f"{path}.match.{key}", f"{value!r} is not {allowed[key][0]} ({', '.join(allowed[key][1])})")
        for path, node in route_nodes(root)
        for key, value in node.match.items()
        if key in allowed and value not in allowed[key][1]
    ]


class RateLimitSection(_Strict):
    """Firing notifications per tenant (and per tenant + severity) per tumbling window.

    Over the limit, non-critical alerts are suppressed (counted); critical ones are emitted with
    ``rate_limited`` set, never dropped. Resolves are never limited.
    """

    window_seconds: float = Field(default=60, gt=0, le=86_400)
    per_tenant: int | None = Field(default=None, ge=1)
    per_tenant_severity: dict[Severity, int] = Field(default_factory=dict)


LabelKey = Annotated[str, Field(min_length=1, max_length=512)]


class RedactionSection(_Strict):
    """What the evaluator takes out of every alert before it leaves (``redaction:``).

    Every sink (webhooks, Slack, PagerDuty, e-mail, PostgreSQL) receives the Alert record the
    evaluator builds, so this is the one place. On top of the built-in rules — PII patterns
    (e-mail, SSN, phone, card numbers) redacted in every string, personal key names (``patient*``,
    ``*name``, ``ssn``, ``dob``...) masked — label keys listed here are dropped from ``labels`` or
    have their value replaced by ``[REDACTED]``; inside the ``entity`` (``group_by`` labels) both
    show as ``[REDACTED]``. Keys are exact label names.
    """

    drop_labels: list[LabelKey] = Field(default_factory=list, description="label keys removed from alerts")
    mask_labels: list[LabelKey] = Field(default_factory=list, description="label keys whose value is masked")

    @field_validator("drop_labels", "mask_labels")
    @classmethod
    def _listed_once(cls, keys: list[str]) -> list[str]:
        seen: set[str] = set()
        for key in keys:
            if key in seen:
                raise ValueError(f"label {key!r} listed twice")
            seen.add(key)
        return keys

    @model_validator(mode="after")
    def _dropped_or_masked(self) -> RedactionSection:
        both = sorted(set(self.drop_labels) & set(self.mask_labels))
        if both:
            raise ValueError(f"label {both[0]!r} is both dropped and masked")
        return self
