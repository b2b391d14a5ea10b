"""The escalation walker (streams/escalation.py): steps at their due times, repeats, on-call."""

from __future__ import annotations

from alertstream.schemas.lifecycle_config import EscalationPolicy
from alertstream.streams.escalation import Page, Walk, advance, start

T = 1_000_000


def policy(repeat: int = 0) -> EscalationPolicy:
    return EscalationPolicy.model_validate(
        {
            "name": "db",
            "steps": [{"notify_on_call": "primary"}, {"wait_seconds": 300}, {"notify": "lead"}, {"wait_seconds": 600}],
            "repeat": repeat,
        }
    )


def on_call(schedule: str, at: int) -> str | None:
    return f"{schedule}@{at}"


def test_steps_run_at_their_due_times_with_the_on_call_of_that_time() -> None:
    walk, pages = advance(policy(), start(T), T, on_call)
    assert pages == [Page("db", 0, 0, T, f"primary@{T}", "primary")]
    assert walk == Walk(2, 0, T + 300_000)
    same, none = advance(policy(), walk, T + 299_999, on_call)
    assert (same, none) == (walk, [])
    walk, pages = advance(policy(), walk, T + 300_000, on_call)
    assert pages == [Page("db", 2, 0, T + 300_000, "lead")]
    walk, pages = advance(policy(), walk, T + 900_000, on_call)
    assert (walk.due, pages) == (0, [])  # the end of the policy: finished


def test_a_late_tick_runs_every_missed_step_with_its_own_due_time() -> None:
    walk, pages = advance(policy(repeat=1), start(T), T + 901_000, on_call)
    assert [(p.round, p.step, p.at) for p in pages] == [(0, 0, T), (0, 2, T + 300_000), (1, 0, T + 900_000)]
    assert walk == Walk(2, 1, T + 1_200_000)
    walk, pages = advance(policy(repeat=1), walk, T + 10_000_000, on_call)
    assert [(p.round, p.step) for p in pages] == [(1, 2)]
    assert walk.due == 0


def test_the_same_position_gives_the_same_pages_whoever_runs_it() -> None:
    first = advance(policy(), Walk(2, 0, T + 300_000), T + 400_000, on_call)
    again = advance(policy(), Walk(2, 0, T + 300_000), T + 450_000, on_call)
    assert first == again


def test_a_policy_without_waits_ends_instead_of_looping() -> None:
    p = EscalationPolicy.model_validate({"name": "p", "steps": [{"notify": "a"}], "repeat": 2})
    walk, pages = advance(p, start(T), T, on_call)
    assert [(x.round, x.receiver) for x in pages] == [(0, "a"), (1, "a"), (2, "a")]
    assert walk.due == 0
