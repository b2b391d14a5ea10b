"""Named time intervals with Alertmanager's semantics (``time_intervals:`` in the config) — pure.

Routes reference them by name as ``mute_time_intervals`` (no notification while *any* of them
contains now) and ``active_time_intervals`` (notifications only while *one* of them contains now);
on-call schedule layers use the same spec inline to restrict when a layer applies. The syntax is
Alertmanager's, so a block copied from an ``alertmanager.yml`` means the same thing here::

    time_intervals:
      - name: offhours
        time_intervals:
          - weekdays: ["saturday", "sunday"]
          - times: [{start_time: "18:00", end_time: "24:00"}]
            weekdays: ["monday:friday"]
            location: Europe/Berlin

Semantics (Alertmanager's ``ContainsTime``): a named interval contains ``t`` when *one* of its
specs does; a spec contains ``t`` when *every* field it sets does (``times`` end-exclusive, the
ranges of ``weekdays``/``days_of_month``/``months``/``years`` inclusive; negative days of month
count from the end, ``-1`` = the last day; a field left out matches everything). ``location``
(an IANA zone, default UTC) is where the wall clock is read, so a mute at "18:00" stays at 18:00
local across daylight-saving changes.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = tuple(m.lower() for m in calendar.month_name[1:])
_HHMM = re.compile(r"^([0-9]|[01][0-9]|2[0-4]):([0-5][0-9])$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo:
    """An IANA zone by name (``UTC``/``Local`` like Alertmanager; ``Local`` is refused: a process's
    local zone differs between machines and would make the same config mean different things)."""
    if name in ("UTC", ""):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _minutes(text: str) -> int:
    m = _HHMM.match(text)
    if not m or int(m.group(1)) * 60 + int(m.group(2)) > 1440:
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 00:00 to 24:00)")
    return int(m.group(1)) * 60 + int(m.group(2))


class TimeRange(_Strict):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if _minutes(self.start_time) >= _minutes(self.end_time):
            raise ValueError("start_time must be before end_time")
        return self

    def contains(self, minute_of_day: int) -> bool:
        return _minutes(self.start_time) <= minute_of_day < _minutes(self.end_time)


def _range(text: str | int, names: Sequence[str], low: int, high: int, what: str) -> tuple[int, int]:
    """``"monday:friday"`` / ``"3"`` / ``"-1"`` → inclusive (begin, end)."""
    parts = str(text).strip().lower().split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"{text!r} is not a {what} or a range a:b")

    def member(p: str) -> int:
        if p in names:
            return names.index(p) + (1 if what == "month" else 0)
        try:
            n = int(p)
        except ValueError:
            raise ValueError(f"{p!r} is not a {what}") from None
        if not low <= n <= high or (what == "day of month" and n == 0):
            raise ValueError(f"{p!r} is not a valid {what}: out of range")
        return n

    begin, end = member(parts[0]), member(parts[-1])
    if what == "day of month":
        if begin < 0 < end:
            raise ValueError("end day must be negative if start day is negative")
        if (28 + begin if begin < 0 else begin) > (28 + end if end < 0 else end):
            raise ValueError(f"end day {end} is always before start day {begin}")
    elif begin > end:
        raise ValueError(f"{text!r}: the end is before the start")
    return begin, end


class TimeIntervalSpec(_Strict):
    """One Alertmanager ``TimeInterval``: every field set must contain the time."""

    times: list[TimeRange] | None = None
    weekdays: list[str] | None = None
    days_of_month: list[str | int] | None = None
    months: list[str | int] | None = None
    years: list[str | int] | None = None
    location: str = "UTC"

    @field_validator("location")
    @classmethod
    def _zone(cls, name: str) -> str:
        zone(name)
        return name

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[str] | None) -> list[str] | None:
        for item in v or ():
            _range(item, WEEKDAYS, 0, 6, "weekday")
        return v

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, v: list[str | int] | None) -> list[str | int] | None:
        for item in v or ():
            _range(item, (), -31, 31, "day of month")
        return v

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[str | int] | None) -> list[str | int] | None:
        for item in v or ():
            _range(item, MONTHS, 1, 12, "month")
        return v

    @field_validator("years")
    @classmethod
    def _years(cls, v: list[str | int] | None) -> list[str | int] | None:
        for item in v or ():
            _range(item, (), 1, 9999, "year")
        return v

    def contains(self, at: datetime) -> bool:
        """Alertmanager's ``ContainsTime`` for an aware datetime (naive = UTC)."""
        t = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone(self.location))
        if self.times is not None and not any(r.contains(t.hour * 60 + t.minute) for r in self.times):
            return False
        if self.days_of_month is not None and not self._in_days(t):
            return False
        if self.months is not None and not any(
            b <= t.month <= e for b, e in (_range(m, MONTHS, 1, 12, "month") for m in self.months)
        ):
            return False
        weekday = (t.weekday() + 1) % 7  # Python: Monday = 0; Alertmanager: Sunday = 0
        if self.weekdays is not None and not any(
            b <= weekday <= e for b, e in (_range(w, WEEKDAYS, 0, 6, "weekday") for w in self.weekdays)
        ):
            return False
        return self.years is None or any(
            b <= t.year <= e for b, e in (_range(y, (), 1, 9999, "year") for y in self.years)
        )

    def _in_days(self, t: datetime) -> bool:
        days = calendar.monthrange(t.year, t.month)[1]
        for item in self.days_of_month or ():
            begin, end = _range(item, (), -31, 31, "day of month")
            begin = days + begin + 1 if begin < 0 else begin
            end = days + end + 1 if end < 0 else end
            if begin > days:
                continue
            if max(begin, -days) <= t.day <= min(end, days):
                return True
        return False


class NamedTimeInterval(_Strict):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    time_intervals: list[TimeIntervalSpec] = Field(min_length=1)

    def contains(self, at: datetime) -> bool:
        return any(spec.contains(at) for spec in self.time_intervals)


def any_contains(specs: Iterable[TimeIntervalSpec], at: datetime) -> bool:
    return any(spec.contains(at) for spec in specs)


def muting(
    intervals: Mapping[str, NamedTimeInterval], mute: Sequence[str], active: Sequence[str], at: datetime
) -> str | None:
    """Why a route is muted at ``at`` (Alertmanager's mute/active semantics), or None.

    ``mute:<name>`` when a mute interval contains ``at``; ``inactive:<names>`` when the route has
    active intervals and none contains ``at``. Unknown names are config errors (checked at load)."""
    for name in mute:
        interval = intervals.get(name)
        if interval is not None and interval.contains(at):
            return f"mute:{name}"
    if active and not any((iv := intervals.get(n)) is not None and iv.contains(at) for n in active):
        return f"inactive:{','.join(active)}"
    return None
