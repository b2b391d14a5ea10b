"""The on-call page's walk forward: hand-offs of a rotation, an override inside a shift, and nobody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alertstream.api.console.oncall import answer, handoffs
from alertstream.schemas.oncall import Schedule

NOW = datetime(2026, 12, 1, 17, 7, tzinfo=UTC)


def _schedule(**extra: object) -> Schedule:
    return Schedule.model_validate(
        {
            "name": "primary",
            "time_zone": "Europe/Berlin",
            "layers": [
                {"name": "week", "rotation": "daily", "start": "2026-11-01T09:00:00", "participants": ["ann", "bob"]}
            ],
            **extra,
        }
    )


def test_a_daily_rotation_hands_off_at_nine_berlin_time() -> None:
    found = handoffs(_schedule(), NOW, limit=3)
    # 09:00 Berlin = 08:00 UTC in December; shift n since 1 November: ann on even n (1 Dec: n = 30)
    assert [(h.at, h.participant) for h in found] == [
        (datetime(2026, 12, 2, 8, 0, tzinfo=UTC), "bob"),
        (datetime(2026, 12, 3, 8, 0, tzinfo=UTC), "ann"),
        (datetime(2026, 12, 4, 8, 0, tzinfo=UTC), "bob"),
    ]


def test_an_override_is_two_hand_offs_inside_the_shift() -> None:
    s = _schedule(overrides=[{"start": "2026-12-01T20:30:00", "end": "2026-12-01T23:45:00", "participant": "cy"}])
    found = handoffs(s, NOW, limit=3)
    assert [(h.at, h.participant) for h in found] == [
        (datetime(2026, 12, 1, 19, 30, tzinfo=UTC), "cy"),
        (datetime(2026, 12, 1, 22, 45, tzinfo=UTC), "ann"),
        (datetime(2026, 12, 2, 8, 0, tzinfo=UTC), "bob"),
    ]
    now = answer([s], NOW).schedules[0]
    assert [(p.name, p.until) for p in now.on_call] == [("ann", datetime(2026, 12, 1, 19, 30, tzinfo=UTC))]
    assert [(u.name, u.starts_at, u.ends_at) for u in now.upcoming][:2] == [
        ("cy", datetime(2026, 12, 1, 19, 30, tzinfo=UTC), datetime(2026, 12, 1, 22, 45, tzinfo=UTC)),
        ("ann", datetime(2026, 12, 1, 22, 45, tzinfo=UTC), datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),
    ]


def test_before_the_first_shift_nobody_is_on_call_until_it_starts() -> None:
    s = _schedule()
    early = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    now = answer([s], early).schedules[0]
    assert now.on_call == []
    assert now.upcoming[0].name == "ann"
    assert now.upcoming[0].starts_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert handoffs(s, early, horizon=timedelta(hours=1)) == []
