"""On-call schedules (``schedules:`` in the config) and "who is on call at T" — pure.

Pure and in the contract layer because three stages ask the same question: the worker's escalation
walker (a step "notify the current on-call of schedule S"), the API (``GET
/api/v1/schedules/{name}/oncall``) and the CLI (``alertstream oncall``). Modelled on Grafana OnCall::

    schedules:
      - name: db-primary
        time_zone: Europe/Berlin
        layers:                       # later layers lie on top of earlier ones
          - name: weekly
            rotation: weekly          # or daily; `every: 2` hands off every second week/day
            start: "2026-03-02T09:00" # the first hand-off, wall time in time_zone
            participants: [alice-pager, bob-pager]
          - name: weekend-cover
            rotation: daily
            start: "2026-03-07T09:00"
            participants: [carol-pager]
            restrict: [{weekdays: ["saturday", "sunday"], location: Europe/Berlin}]
        overrides:
          - {start: "2026-03-10T09:00", end: "2026-03-11T09:00", participant: dave-pager}

Participants are receiver names (a person's pager, phone or chat receiver), so "notify the on-call"
is an ordinary notification to a receiver.

**Who is on call at T**: the last override covering T (``start`` inclusive, ``end`` exclusive);
else the topmost layer that applies at T — T at or after its ``start`` and, when it has
``restrict``, inside one of those time-interval specs (:mod:`.time_intervals`); else nobody.
**Hand-offs happen at the wall time of ``start`` in the schedule's zone**: the rotation index is
the number of whole periods between ``start`` and T measured on the local wall clock, so a daily
09:00 hand-off stays at 09:00 across a daylight-saving change (that day lasts 23 or 25 hours).
Naive times in the config are wall times in ``time_zone``; times with an offset are taken as given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertstream.schemas.time_intervals import TimeIntervalSpec, zone

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_PERIOD_DAYS = {"daily": 1, "weekly": 7}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Layer(_Strict):
    name: str = Field(min_length=1, max_length=128, pattern=_NAME)
    rotation: Literal["daily", "weekly"]
    every: int = Field(default=1, ge=1, le=52, description="hand off every N days (daily) or weeks (weekly)")
    start: datetime = Field(description="the first hand-off; a naive time is wall time in the schedule's zone")
    participants: list[str] = Field(min_length=1, max_length=100)
    restrict: list[TimeIntervalSpec] | None = Field(default=None, description="the layer applies only inside these")


class Override(_Strict):
    start: datetime
    end: datetime
    participant: str = Field(min_length=1, max_length=256)


class Schedule(_Strict):
    name: str = Field(min_length=1, max_length=128, pattern=_NAME)
    time_zone: str = "UTC"
    layers: list[Layer] = Field(min_length=1)
    overrides: list[Override] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, name: str) -> str:
        zone(name)
        return name

    @model_validator(mode="after")
    def _overrides_ordered(self) -> Schedule:
        for i, o in enumerate(self.overrides):
            if self.aware(o.end) <= self.aware(o.start):
                raise ValueError(f"overrides[{i}]: end must be after start")
        return self

    def aware(self, at: datetime) -> datetime:
        """A config time as an aware datetime (naive = wall time in the schedule's zone)."""
        return at if at.tzinfo is not None else at.replace(tzinfo=zone(self.time_zone))

    def participants(self) -> Iterator[str]:
        for layer in self.layers:
            yield from layer.participants
        for o in self.overrides:
            yield o.participant


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call at ``at``: ``participant`` (None = nobody), and why (``override`` or
    ``layer:<name>``), with the shift's start when a layer decided."""

    schedule: str
    at: datetime
    participant: str | None
    source: str | None
    shift_start: datetime | None = None


def _local_naive(at: datetime, tz_name: str) -> datetime:
    return at.astimezone(zone(tz_name)).replace(tzinfo=None)


def _shift(layer: Layer, schedule: Schedule, at: datetime) -> tuple[str, datetime] | None:
    """The layer's participant at ``at`` and the wall-clock start of that shift, or None before
    the layer's first hand-off."""
    start = layer.start
    if start.tzinfo is not None:  # an explicit offset: its wall time in the schedule's zone
        start = _local_naive(start, schedule.time_zone)
    now = _local_naive(at, schedule.time_zone)
    if now < start:
        return None
    period = timedelta(days=_PERIOD_DAYS[layer.rotation] * layer.every)
    n = (now - start) // period
    shift_start = (start + n * period).replace(tzinfo=zone(schedule.time_zone))
    return layer.participants[n % len(layer.participants)], shift_start


def on_call(schedule: Schedule, at: datetime) -> OnCall:
    """Who is on call in ``schedule`` at ``at`` (an aware datetime; naive = UTC)."""
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    for o in reversed(schedule.overrides):
        if schedule.aware(o.start) <= at < schedule.aware(o.end):
            return OnCall(schedule.name, at, o.participant, "override", schedule.aware(o.start))
    for layer in reversed(schedule.layers):
        if layer.restrict is not None and not any(spec.contains(at) for spec in layer.restrict):
            continue
        shift = _shift(layer, schedule, at)
        if shift is not None:
            return OnCall(schedule.name, at, shift[0], f"layer:{layer.name}", shift[1])
    return OnCall(schedule.name, at, None, None)
