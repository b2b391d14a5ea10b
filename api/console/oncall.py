"""`GET /api/v1/oncall`: who is on call now in each schedule, until when, and the next hand-offs,
for the console's on-call page.

The schedules' rule is :func:`alertstream.schemas.oncall.on_call` (overrides, layers, restricted
layers); this module only walks it forward: it samples the answer every ``STEP`` over ``HORIZON``
and narrows each change to the minute by bisection. A hand-off shorter than ``STEP`` may be
missed — schedules hand off daily or weekly, overrides last hours — and the walk costs a few
thousand pure calls per schedule, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel

from alertstream.api.auth import Caller
from alertstream.api.problems import responses
from alertstream.api.silence_service import bus
from alertstream.schemas.oncall import Schedule, on_call

STEP = timedelta(minutes=15)
HORIZON = timedelta(days=14)
UPCOMING = 5


@dataclass(frozen=True)
class Handoff:
    at: datetime
    participant: str | None


def handoffs(schedule: Schedule, now: datetime, horizon: timedelta = HORIZON, limit: int = UPCOMING) -> list[Handoff]:
    """The next ``limit`` changes of who is on call after ``now`` (to the minute), oldest first."""
    out: list[Handoff] = []
    before, who = now, on_call(schedule, now).participant
    end = now + horizon
    while before < end and len(out) < limit:
        after = min(before + STEP, end)
        then = on_call(schedule, after).participant
        if then != who:
            low, high = before, after  # who at low, someone else at high
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if on_call(schedule, mid).participant == who:
                    low = mid
                else:
                    high = mid
            floor = high.replace(second=0, microsecond=0)  # hand-offs fall on whole minutes
            at = floor if floor > low and on_call(schedule, floor).participant != who else high
            who = on_call(schedule, at).participant
            out.append(Handoff(at, who))
            before = at
        else:
            before = after
    return out


class OnCallNow(BaseModel):
    name: str | None
    since: datetime | None
    until: datetime | None
    source: str | None


class Upcoming(BaseModel):
    name: str | None
    starts_at: datetime
    ends_at: datetime | None


class ScheduleNow(BaseModel):
    name: str
    time_zone: str
    on_call: list[OnCallNow]
    upcoming: list[Upcoming]


class OnCallAnswer(BaseModel):
    at: datetime
    schedules: list[ScheduleNow]


def answer(schedules: list[Schedule], now: datetime) -> OnCallAnswer:
    out = []
    for s in schedules:
        current = on_call(s, now)
        nexts = handoffs(s, now)
        until = nexts[0].at if nexts else None
        on = [OnCallNow(name=current.participant, since=current.shift_start, until=until, source=current.source)]
        upcoming = [
            Upcoming(name=h.participant, starts_at=h.at, ends_at=nexts[i + 1].at if i + 1 < len(nexts) else None)
            for i, h in enumerate(nexts)
        ]
        out.append(
            ScheduleNow(
                name=s.name, time_zone=s.time_zone, on_call=on if current.participant else [], upcoming=upcoming
            )
        )
    return OnCallAnswer(at=now, schedules=out)


router = APIRouter(prefix="/api/v1", responses=responses(401, 429, 503), tags=["lifecycle"])


@router.get("/oncall", response_model=OnCallAnswer, summary="Who is on call now per schedule, and the next hand-offs")
async def oncall_now(request: Request, caller: Caller) -> OnCallAnswer:
    return answer(list(bus(request).config.schedules), datetime.now(UTC))
