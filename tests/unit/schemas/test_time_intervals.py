"""Time intervals with Alertmanager's semantics (schemas/time_intervals.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alertstream.schemas.config import parse_config
from alertstream.schemas.errors import ConfigError
from alertstream.schemas.time_intervals import NamedTimeInterval, TimeIntervalSpec, muting


def spec(**kw: Any) -> TimeIntervalSpec:
    return TimeIntervalSpec.model_validate(kw)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_times_are_end_exclusive_and_read_in_the_location() -> None:
    office = spec(times=[{"start_time": "09:00", "end_time": "17:00"}], location="Europe/Berlin")
    # 2026-01-15 (winter, UTC+1): 08:00 UTC = 09:00 Berlin
    assert office.contains(utc(2026, 1, 15, 8, 0))
    assert not office.contains(utc(2026, 1, 15, 7, 59))
    assert office.contains(utc(2026, 1, 15, 15, 59))
    assert not office.contains(utc(2026, 1, 15, 16, 0))  # 17:00 Berlin: the end is exclusive
    # summer (UTC+2): the same wall clock, two hours off UTC
    assert office.contains(utc(2026, 7, 15, 7, 0))
    assert not office.contains(utc(2026, 7, 15, 15, 0))


def test_every_field_set_must_contain_the_time_weekday_ranges_inclusive() -> None:
    weekday_nights = spec(weekdays=["monday:friday"], times=[{"start_time": "18:00", "end_time": "24:00"}])
    assert weekday_nights.contains(utc(2026, 3, 6, 23, 59))  # a Friday
    assert not weekday_nights.contains(utc(2026, 3, 7, 23, 0))  # Saturday
    assert not weekday_nights.contains(utc(2026, 3, 6, 17, 59))
    sunday = spec(weekdays=["sunday"])
    assert sunday.contains(utc(2026, 3, 8, 12, 0))
    assert not sunday.contains(utc(2026, 3, 9, 12, 0))


def test_negative_days_of_month_count_from_the_end_months_and_years() -> None:
    last_day = spec(days_of_month=["-1"])
    assert last_day.contains(utc(2026, 2, 28, 12, 0))
    assert not last_day.contains(utc(2026, 2, 27, 12, 0))
    assert last_day.contains(utc(2028, 2, 29, 12, 0))  # a leap year
    first_week = spec(days_of_month=["1:7"], months=["january:march"], years=["2026"])
    assert first_week.contains(utc(2026, 3, 7, 0, 0))
    assert not first_week.contains(utc(2026, 4, 1, 0, 0))
    assert not first_week.contains(utc(2027, 1, 1, 0, 0))
    assert spec().contains(utc(2026, 1, 1, 0, 0))  # nothing set: always


def test_a_named_interval_contains_a_time_when_one_of_its_specs_does() -> None:
    offhours = NamedTimeInterval.model_validate(
        {
            "name": "offhours",
            "time_intervals": [
                {"weekdays": ["saturday", "sunday"]},
                {"times": [{"start_time": "00:00", "end_time": "08:00"}]},
            ],
        }
    )
    assert offhours.contains(utc(2026, 3, 7, 12, 0))  # Saturday
    assert offhours.contains(utc(2026, 3, 9, 7, 0))  # Monday early
    assert not offhours.contains(utc(2026, 3, 9, 9, 0))


def test_mute_and_active_semantics() -> None:
    intervals = {
        "night": NamedTimeInterval.model_validate(
            {"name": "night", "time_intervals": [{"times": [{"start_time": "00:00", "end_time": "06:00"}]}]}
        ),
        "day": NamedTimeInterval.model_validate(
            {"name": "day", "time_intervals": [{"times": [{"start_time": "06:00", "end_time": "24:00"}]}]}
        ),
    }
    at_night, at_noon = utc(2026, 3, 9, 3, 0), utc(2026, 3, 9, 12, 0)
    assert muting(intervals, ["night"], [], at_night) == "mute:night"
    assert muting(intervals, ["night"], [], at_noon) is None
    assert muting(intervals, [], ["day"], at_night) == "inactive:day"
    assert muting(intervals, [], ["day"], at_noon) is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"times": [{"start_time": "17:00", "end_time": "09:00"}]}, "start_time must be before end_time"),
        ({"times": [{"start_time": "25:00", "end_time": "26:00"}]}, "not a time of day"),
        ({"weekdays": ["funday"]}, "not a weekday"),
        ({"weekdays": ["friday:monday"]}, "the end is before the start"),
        ({"days_of_month": ["0"]}, "out of range"),
        ({"days_of_month": ["-3:5"]}, "end day must be negative"),
        ({"months": ["smarch"]}, "not a month"),
        ({"location": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**bad)


def test_routes_naming_unknown_intervals_are_config_errors_with_their_path() -> None:
    doc = {
        "receivers": [{"name": "hook", "channel": "webhook", "url": "https://h.example.com/x"}],
        "time_intervals": [{"name": "night", "time_intervals": [{"weekdays": ["sunday"]}]}],
        "routes": {"receiver": "hook", "routes": [{"receiver": "hook", "mute_time_intervals": ["nigth"]}]},
    }
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "c.yaml")
    assert ("routes.routes[0].mute_time_intervals[0]", "unknown time interval 'nigth'") in err.value.problems
