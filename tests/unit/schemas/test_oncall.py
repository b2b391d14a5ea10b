"""On-call schedules: layers, overrides, hand-offs on the wall clock across DST (schemas/oncall.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alertstream.schemas.oncall import Schedule, on_call

BERLIN = ZoneInfo("Europe/Berlin")

SCHEDULE = Schedule.model_validate(
    {
        "name": "db-primary",
        "time_zone": "Europe/Berlin",
        "layers": [
            {
                "name": "daily",
                "rotation": "daily",
                "start": "2026-03-27T09:00",
                "participants": ["alice", "bob", "carol"],
            },
            {
                "name": "nights",
                "rotation": "weekly",
                "start": "2026-03-02T00:00",
                "participants": ["erin", "frank"],
                "restrict": [{"times": [{"start_time": "00:00", "end_time": "06:00"}], "location": "Europe/Berlin"}],
            },
        ],
        "overrides": [{"start": "2026-03-29T12:00", "end": "2026-03-29T14:00", "participant": "grace"}],
    }
)


def who(local: datetime) -> tuple[str | None, str | None]:
    answer = on_call(SCHEDULE, local.replace(tzinfo=BERLIN).astimezone(UTC))
    return answer.participant, answer.source


def test_a_daily_hand_off_happens_at_the_wall_time_of_its_start() -> None:
    assert who(datetime(2026, 3, 27, 9, 0)) == ("alice", "layer:daily")
    assert who(datetime(2026, 3, 28, 8, 59)) == ("alice", "layer:daily")
    assert who(datetime(2026, 3, 28, 9, 0)) == ("bob", "layer:daily")


def test_the_hand_off_stays_at_nine_local_across_the_spring_dst_change() -> None:
    # 2026-03-29: Berlin goes from UTC+1 to UTC+2 at 02:00. The hand-off is at 09:00 CEST = 07:00 UTC,
    # 23 hours after the previous one; counting 24 h periods would move it to 10:00 local.
    assert who(datetime(2026, 3, 29, 8, 59)) == ("bob", "layer:daily")
    assert who(datetime(2026, 3, 29, 9, 0)) == ("carol", "layer:daily")
    assert on_call(SCHEDULE, datetime(2026, 3, 29, 7, 30, tzinfo=UTC)).participant == "carol"  # 09:30 CEST
    assert on_call(SCHEDULE, datetime(2026, 3, 29, 6, 59, tzinfo=UTC)).participant == "bob"  # 08:59 CEST


def test_the_autumn_change_too_and_the_rotation_wraps() -> None:
    # 2026-10-25: back to UTC+1; the day lasts 25 hours, the hand-off stays at 09:00 local
    day = datetime(2026, 10, 25, 9, 0)
    n = (day - datetime(2026, 3, 27, 9, 0)).days
    expected = ["alice", "bob", "carol"][n % 3]
    assert who(day) == (expected, "layer:daily")
    assert who(day - timedelta(minutes=1))[0] == ["alice", "bob", "carol"][(n - 1) % 3]
    assert on_call(SCHEDULE, datetime(2026, 10, 25, 8, 0, tzinfo=UTC)).participant == expected  # 09:00 CET


def test_the_upper_layer_wins_inside_its_restriction_and_rotates_weekly() -> None:
    # nights: 00:00-06:00 local; week 0 from 2026-03-02 = erin, week 3 (03-23..03-29) = frank
    assert who(datetime(2026, 3, 28, 3, 0)) == ("frank", "layer:nights")
    assert who(datetime(2026, 3, 29, 3, 30)) == ("frank", "layer:nights")  # 01:30 UTC, after the jump
    assert who(datetime(2026, 3, 30, 0, 0)) == ("erin", "layer:nights")  # week 4: the weekly hand-off
    assert who(datetime(2026, 3, 28, 6, 0)) == ("alice", "layer:daily")  # outside the restriction


def test_an_override_wins_for_its_window_only() -> None:
    assert who(datetime(2026, 3, 29, 11, 59)) == ("carol", "layer:daily")
    assert who(datetime(2026, 3, 29, 12, 0)) == ("grace", "override")
    assert who(datetime(2026, 3, 29, 13, 59)) == ("grace", "override")
    assert who(datetime(2026, 3, 29, 14, 0)) == ("carol", "layer:daily")


def test_before_any_layer_starts_nobody_is_on_call() -> None:
    answer = on_call(SCHEDULE, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert (answer.participant, answer.source) == (None, None)


def test_an_override_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="end must be after start"):
        Schedule.model_validate(
            {
                "name": "s",
                "layers": [{"name": "l", "rotation": "daily", "start": "2026-01-01T00:00", "participants": ["a"]}],
                "overrides": [{"start": "2026-01-02T00:00", "end": "2026-01-01T00:00", "participant": "b"}],
            }
        )
