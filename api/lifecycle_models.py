"""Request and response models of the lifecycle endpoints (api/lifecycle_routes.py, api/am_silences.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=2048)


class BulkActionRequest(BaseModel):
    """Every open (firing) alert whose label set matches all ``matchers`` (Alertmanager syntax:
    ``alertname="cpu-high"``, ``severity=~"critical|warning"``; labels ``tenant``, ``rule`` /
    ``alertname``, ``severity``, ``entity`` and the event labels)."""

    model_config = ConfigDict(extra="forbid")
    matchers: list[str] = Field(min_length=1, max_length=64)
    comment: str = Field(default="", max_length=2048)


class ActionAccepted(BaseModel):
    action_id: str
    kind: str
    fingerprint: str
    alert_id: str | None


class BulkAccepted(BaseModel):
    kind: str
    matched: int
    actions: list[ActionAccepted]


class SilenceMatcher(BaseModel):
    name: str
    value: str
    isRegex: bool = False
    isEqual: bool = True


class SilenceRequest(BaseModel):
    """``matchers`` as Alertmanager strings (``tenant="acme"``) or objects; ``ends_at`` or
    ``duration_seconds``; ``starts_at`` defaults to now."""

    model_config = ConfigDict(extra="forbid")
    matchers: list[str | SilenceMatcher] = Field(min_length=1, max_length=64)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration_seconds: float | None = Field(default=None, gt=0, le=366 * 86_400)
    comment: str = Field(default="", max_length=2048)


class SilenceOut(BaseModel):
    id: str
    state: Literal["pending", "active", "expired"]
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    updated_at: datetime
    created_by: str
    comment: str


class TrailEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    reason: str | None
    alert_id: str | None
    delivery_id: str | None
    details: dict[str, Any]


class Trail(BaseModel):
    """The audit trail of the alert's whole episode: from the episode's first record to its resolve."""

    alert_id: str
    fingerprint: str
    entries: list[TrailEntry]


class OnCallOut(BaseModel):
    schedule: str
    at: datetime
    participant: str | None
    source: str | None = Field(description="`override`, `layer:<name>`, or null when nobody is on call")
    shift_start: datetime | None


class ScheduleOut(BaseModel):
    name: str
    time_zone: str
    layers: list[str]
    on_call_now: OnCallOut
