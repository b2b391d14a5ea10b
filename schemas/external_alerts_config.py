"""``external_alerts:`` — how the worker evaluates alerts received from other systems.

Alerts posted to ``POST /api/v2/alerts`` (Prometheus, amtool, any Alertmanager API v2 client) go
through the same state machine, rate limits, routing and delivery as the rules' alerts; this
section holds what a rule would otherwise say for them:

* ``resolve_timeout_seconds`` — Alertmanager's ``resolve_timeout``: an alert sent without
  ``endsAt`` ends this long after it was received, unless it is sent again (default 5 min);
* the dedup, grouping and repeat windows of :mod:`alertstream.streams.dedup`, and the lateness bound;
* ``severity_label`` — the label whose value gives the severity (``critical``/``warning``/``info``,
  any case, or a value mapped by ``severity_map``; anything else is ``default_severity``);
* ``default_tenant`` — the tenant of an admin key's alerts that carry no ``tenant`` label
  (unset: such alerts are refused). A tenant key's alerts always belong to its tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alertstream.schemas.rules_config import Severity

TenantName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:@-]{1,128}$")]


class ExternalAlertsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resolve_timeout_seconds: float = Field(default=300, gt=0, le=30 * 86_400)
    dedup_window_seconds: float = Field(default=600, gt=0, le=86_400)
    group_window_seconds: float = Field(default=86_400, gt=0, le=30 * 86_400)
    repeat_interval_seconds: float = Field(default=4 * 3600, ge=0, le=30 * 86_400)
    max_lateness_seconds: float = Field(default=3600, gt=0, le=7 * 86_400)
    severity_label: str = Field(default="severity", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    severity_map: dict[str, Severity] = Field(default_factory=dict, description="label value -> severity")
    default_severity: Severity = "warning"
    default_tenant: TenantName | None = None

    @model_validator(mode="after")
    def _windows(self) -> ExternalAlertsSection:
        if self.group_window_seconds < self.dedup_window_seconds:
            raise ValueError("group_window_seconds must not be shorter than dedup_window_seconds")
        if self.repeat_interval_seconds > self.group_window_seconds:
            raise ValueError("repeat_interval_seconds must not exceed group_window_seconds")
        return self

    def severity(self, labels: Mapping[str, str]) -> Severity:
        """The severity of an alert from its ``severity_label`` value."""
        raw = labels.get(self.severity_label, "")
        if raw in self.severity_map:
            return self.severity_map[raw]
        lowered = raw.lower()
        if lowered in ("critical", "warning", "info"):
            return lowered  # type: ignore[return-value]
        return self.default_severity
