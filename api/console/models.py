"""Response bodies of the console's endpoints (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool

from alertstream.api.models import Alert, Stats
from alertstream.api.routes import RFC3339


class Me(BaseModel):
    key_id: str
    scope: Literal["admin", "tenant"]
    tenant: str | None = Field(description="the one tenant the key sees; null for an admin key")


class Counts(BaseModel):
    total: int
    by_severity: dict[str, int]
    by_status: dict[str, int]


class Group(BaseModel):
    key: str = Field(description="the rule id or the fingerprint")
    count: int = Field(description="alert records of the group that match the filters")
    firing: int
    resolved: int
    worst_severity: str
    first_seen: datetime
    last_seen: datetime
    latest: Alert = Field(description="the group's newest matching alert")


class AlertGroups(BaseModel):
    by: Literal["rule", "fingerprint"] | None
    counts: Counts = Field(description="over every alert the filters select")
    groups: list[Group] = Field(description="newest activity first; empty without `by`")


class TimelineEntry(BaseModel):
    at: datetime
    kind: str = Field(
        description="breach, earlier, fired, suppressed, routed, attempt, dead_lettered, replayed, later, resolved, "
        "or an audit action of the API's writes (acknowledged, silenced, escalated, …)"
    )
    title: str = Field(description="what happened, in words")
    detail: str | None = None
    actor: str | None = None
    alert_id: str | None = Field(default=None, description="another alert of the episode this entry is about")
    delivery_id: str | None = None
    channel: str | None = None
    receiver: str | None = None
    outcome: str | None = None
    status_code: int | None = None
    reason: str | None = None
    latency_seconds: float | None = None


class Timeline(BaseModel):
    alert_id: str
    fingerprint: str
    explanation: str = Field(description="why it fired (or resolved), in words")
    entries: list[TimelineEntry] = Field(description="oldest first")
    resolved_at: datetime | None = Field(description="when the episode resolved, if a resolve is in the history")


class SeriesPoint(BaseModel):
    at: datetime = Field(description="start of the bucket")
    values: dict[str, float | None]


class ChannelSeries(BaseModel):
    channel: str
    points: list[SeriesPoint] = Field(description="per bucket: sent, failed, p50_seconds, p99_seconds (attempts)")


class Breaker(BaseModel):
    channel: str
    receiver: str
    failures: int = Field(description="consecutive failed attempts, newest first")
    last_at: datetime
    last_reason: str | None


class Noisy(BaseModel):
    key: str
    alerts: int = Field(description="alert records (notifications emitted)")
    suppressed: int = Field(description="occurrences folded into them")
    rule_id: str
    entity: str | None = None
    summary: str | None = None
    worst_severity: str


class Overview(BaseModel):
    since: datetime
    until: datetime
    bucket_seconds: int
    alerts_by_severity: list[SeriesPoint]
    suppressed_by_reason: dict[str, int] = Field(
        description="occurrences folded, by reason; `unattributed` = on records that carry no breakdown"
    )
    rate_limited: int = Field(description="alerts emitted over a tenant rate limit (critical ones)")
    deliveries: list[ChannelSeries]
    stats: Stats = Field(description="GET /api/v1/stats over the same range (per channel totals, DLQ depth)")
    open_breakers: list[Breaker] = Field(
        description="receivers whose latest attempts all failed recently: probably open (approximated)"
    )
    noisiest_rules: list[Noisy]
    noisiest_fingerprints: list[Noisy]


class MatcherIn(BaseModel):
    """Alertmanager API v2's matcher shape (what a silence carries)."""

    name: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
    value: str = Field(max_length=1024, pattern=r"^[^\x00]*$")
    isRegex: StrictBool = False  # the Alertmanager API's field names
    isEqual: StrictBool = True


class PreviewRequest(BaseModel):
    matchers: list[MatcherIn] = Field(min_length=1, max_length=64)


class Preview(BaseModel):
    matched: int = Field(description="firing alerts (latest record of each fingerprint) the matchers select")
    examined: int = Field(description="fingerprints looked at")
    truncated: bool = Field(description="more alerts than the preview examines were in range")
    alerts: list[Alert] = Field(description="up to 50 of them, newest first")
    labels: list[dict[str, str]] = Field(description="the label set matchers saw, per returned alert")


class BacktestRequest(BaseModel):
    # no max_length: the request body limit (413) bounds both texts, in bytes, whatever they hold
    config: str = Field(min_length=1, description="the proposed config (YAML text)")
    baseline: str | None = Field(default=None, description="the config to compare with; default: the config in force")
    since: str | None = Field(default=None, pattern=r"^[0-9]{1,6}[smhd]$", description="window = the last D (e.g. 24h)")
    from_: str | None = Field(
        default=None,
        alias="from",
        pattern=RFC3339,
        max_length=40,
        description="window start, RFC 3339 (with `to`)",
        json_schema_extra={"format": "date-time"},
    )
    to: str | None = Field(
        default=None,
        pattern=RFC3339,
        max_length=40,
        description="window end, RFC 3339 (default now)",
        json_schema_extra={"format": "date-time"},
    )
    tenant: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")
    warmup: str = Field(default="0s", pattern=r"^[0-9]{1,6}[smhd]$")
    silences: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        default_factory=list,
        max_length=20,
        description="silences to try with the proposed config over the whole window, each a matcher set as amtool "
        'takes it (e.g. `alertname="cpu",entity=~"db-.*"`)',
    )

    model_config = {"populate_by_name": True}


class BacktestJob(BaseModel):
    job_id: str
    state: Literal["queued", "running", "done", "failed"]
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    window: dict[str, Any] = Field(description="from, to (RFC 3339), tenant, warmup")
    error: str | None = Field(description="why it failed (exit status and the command's last error lines)")
    report: dict[str, Any] | None = Field(description="the JSON report of `alertstream backtest --json`")
    has_html: bool = Field(description="GET /api/v1/backtest/{id}/report.html answers the HTML report")
