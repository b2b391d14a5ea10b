"""Response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Severity = Literal["critical", "warning", "info"]
Status = Literal["firing", "resolved"]


class Route(BaseModel):
    receiver: str
    channel: str


class Alert(BaseModel):
    alert_id: str
    tenant: str
    rule_id: str
    rule_version: int
    status: str
    severity: str
    fingerprint: str
    entity: str
    summary: str
    reason: str = Field(description="the evaluator's decision: new, escalated, repeat, regroup or cleared")
    details: dict[str, Any]
    labels: dict[str, str]
    value: float | None
    threshold: float | None
    occurrence_count: int
    suppressed_count: int
    first_seen: datetime
    last_seen: datetime
    emitted_at: datetime | None
    event_ids: list[str]
    routes: list[Route]
    rate_limited: bool
    event: str = Field(
        default="notify",
        description="what the record tells: notify (fired or resolved), acknowledged, unacknowledged, or suppressed"
        " (held back: details.suppression names the silence, inhibit rule or time interval; routed nowhere)",
    )


class AlertPage(BaseModel):
    items: list[Alert]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class Attempt(BaseModel):
    attempt: int
    outcome: str
    status_code: int | None
    reason: str | None = Field(description="bounded failure class, e.g. http_5xx, timeout, ssrf_refused")
    latency_seconds: float
    at: datetime


class Notification(BaseModel):
    delivery_id: str
    channel: str
    receiver: str
    state: str = Field(description="the latest outcome: sent, retrying, dead_lettered, disabled or duplicate")
    attempts: int
    status_code: int | None
    reason: str | None
    first_at: datetime
    last_at: datetime
    sent_at: datetime | None
    dead_lettered_at: datetime | None
    history: list[Attempt]


class DlqEntry(BaseModel):
    channel: str
    delivery_id: str | None
    receiver: str | None
    attempt: int | None
    reason: str
    error: str | None
    dead_lettered_at: datetime


class AuditEntry(BaseModel):
    at: datetime
    recorded_at: datetime
    actor: str
    action: str
    reason: str | None
    delivery_id: str | None
    details: dict[str, Any]


class AlertDetail(BaseModel):
    alert: Alert
    notifications: list[Notification]
    dead_letters: list[DlqEntry]
    audit: list[AuditEntry]


class RuleRef(BaseModel):
    id: str
    version: int = Field(description="the config version (rule set) that evaluated it")
    description: str | None
    operator: str | None


class Trigger(BaseModel):
    event_ids: list[str] = Field(description="the events that triggered it (the latest, bounded)")
    occurrence_count: int
    first_seen: datetime
    last_seen: datetime


class Decision(BaseModel):
    stage: Literal["dedup", "grouping", "rate_limit", "routing", "lifecycle"]
    outcome: str
    detail: str


class Suppressions(BaseModel):
    count: int = Field(description="occurrences folded into this alert instead of notifying")
    by_reason: dict[str, int] | None = Field(
        description="the breakdown (dedup, grouped, rate_limit; unattributed: counted before the worker kept"
        " reasons); null for a record stored without one"
    )


class PreviousAlert(BaseModel):
    alert_id: str
    status: str
    severity: str
    reason: str
    occurrence_count: int
    suppressed_count: int
    rate_limited: bool
    last_seen: datetime
    emitted_at: datetime | None


class Explanation(BaseModel):
    alert_id: str
    fingerprint: str
    status: str
    severity: str
    summary: str
    rule: RuleRef
    value: float | None
    threshold: float | None
    observed: dict[str, Any] = Field(description="the values the rule saw (the alert's sanitised details)")
    trigger: Trigger
    decisions: list[Decision]
    suppressions: Suppressions
    previous: list[PreviousAlert] = Field(description="earlier alerts of the same fingerprint, newest first (≤ 20)")


class Count(BaseModel):
    key: str
    count: int


class AlertStats(BaseModel):
    total: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_rule: list[Count] = Field(description="top 20")
    by_tenant: list[Count] = Field(description="top 20")
    suppressed: int = Field(description="occurrences folded into these alerts instead of notifying")
    suppressed_by_reason: dict[str, int] = Field(
        description="the same by reason (dedup, grouped, rate_limit, …; unattributed: recorded without a breakdown)"
    )


class ChannelStats(BaseModel):
    channel: str
    notifications: int = Field(description="notifications last updated in the range")
    delivered: int
    dead_lettered: int
    success_rate: float | None = Field(description="delivered / (delivered + dead-lettered); null when neither")
    attempts: int
    attempt_success_rate: float | None = Field(description="sent attempts / attempts made")
    dlq_depth: int = Field(description="notifications of this channel dead-lettered now (not delivered since)")
    dlq_undecodable: int = Field(description="undecodable DLQ records in the range (admin keys only; else 0)")
    alert_to_delivery_p50_seconds: float | None
    alert_to_delivery_p99_seconds: float | None


class Stats(BaseModel):
    since: datetime
    until: datetime
    alerts: AlertStats
    deliveries: list[ChannelStats]


class Delivery(BaseModel):
    id: int
    delivery_id: str
    alert_id: str
    tenant: str
    fingerprint: str
    channel: str
    receiver: str
    attempt: int
    outcome: str
    status_code: int | None
    reason: str | None
    latency_seconds: float
    at: datetime


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class Health(BaseModel):
    status: str
