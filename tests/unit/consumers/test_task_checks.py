"""Which tasks read back from a retry tier deliver may act on, and how long one may wait."""

from __future__ import annotations

from typing import Any

import pytest

from alertstream.consumers.model import delivery_id, log_ids, tasks_for
from alertstream.consumers.partition_holds import DATABASE, NOT_DUE, PartitionHolds, resume_backoff
from alertstream.consumers.retry_tiers import Schedule, clamp_not_before, max_delay_seconds, wait_step
from alertstream.consumers.task_checks import field_problem, retry_problem
from tests.unit.consumers.helpers import alert


def _task(**over: Any) -> dict[str, Any]:
    task = tasks_for(alert(), "webhook")[0]
    return {**task, "attempt": 1, **over}


def test_a_task_written_by_deliver_is_valid() -> None:
    assert retry_problem(_task(), "webhook") is None
    assert retry_problem(_task(attempt=0, last_reason="http_5xx", last_error="HTTP 500"), "webhook") is None


@pytest.mark.parametrize(
    ("over", "problem"),
    [
        ({"attempt": 2**31 - 1}, "attempt 2147483647 not in 0..1000000"),
        ({"attempt": -1}, "attempt -1 not in 0..1000000"),
        ({"channel": "slack"}, "channel 'slack' is not this group's (webhook)"),
        ({"delivery_id": "msg_" + "0" * 32}, "delivery_id is not the one of (alert_id, channel, receiver)"),
        ({"receiver": ""}, "receiver is empty"),
        ({"receiver": "x" * 129}, "receiver is longer than 128 characters"),
        ({"not_before": -5}, "not_before -5 is negative"),
        ({"last_reason": "made_up"}, "last_reason 'made_up' is not a known reason"),
        ({"last_error": "e" * 501}, "last_error is longer than 500 characters"),
    ],
)
def test_invalid_retry_tasks_are_named(over: dict[str, Any], problem: str) -> None:
    assert retry_problem(_task(**over), "webhook") == problem


def test_text_the_ledger_cannot_store_is_refused_whatever_the_origin() -> None:
    assert field_problem(_task()) is None
    bad = _task()
    bad["alert"] = {**bad["alert"], "tenant": "a\x00b"}
    assert field_problem(bad) == "alert.tenant contains a NUL character"
    assert retry_problem(bad, "webhook") == "alert.tenant contains a NUL character"


S = Schedule((1.0, 10.0), jitter=0.2, max_retry_after_seconds=3.0)


def test_a_due_time_is_clamped_to_the_tiers_longest_wait_from_the_records_time() -> None:
    assert max_delay_seconds(S, 1) == 3.0  # Retry-After can ask for more than 1 s x 1.2
    assert max_delay_seconds(S, 2) == 12.0
    ten_years = 10 * 365 * 86_400_000
    assert clamp_not_before(S, 1, ten_years, written_ms=1_000, now_ms=5_000) == 4_000
    assert clamp_not_before(S, 2, ten_years, written_ms=0, now_ms=5_000) == 17_000, "no timestamp: from now"
    assert clamp_not_before(S, 2, ten_years, written_ms=99_000, now_ms=5_000) == 17_000, "future timestamp: now"
    assert clamp_not_before(S, 1, 2_500, written_ms=1_000, now_ms=5_000) == 2_500, "within bounds: unchanged"


def test_a_deferred_task_waits_on_its_own_tier() -> None:
    step = wait_step(Schedule((1.0, 10.0), jitter=0.0), 0, 1_000)
    assert (step.tier, step.not_before_ms) == (1, 2_000), "from `alerts`: tier 1"
    step = wait_step(Schedule((1.0, 10.0), jitter=0.0), 2, 1_000)
    assert (step.tier, step.not_before_ms) == (2, 11_000)


def test_a_partition_resumes_when_no_reason_is_left() -> None:
    h = PartitionHolds()
    assert h.hold(("t", 0), NOT_DUE)
    assert not h.hold(("t", 0), DATABASE), "already paused"
    assert not h.release(("t", 0), NOT_DUE), "the database still holds it"
    assert h.held_for(DATABASE) == [("t", 0)]
    assert h.release(("t", 0), DATABASE)
    assert not h.is_held(("t", 0))
    assert not h.release(("t", 0), DATABASE), "released once"


def test_resume_backoff_grows_and_is_bounded() -> None:
    assert [resume_backoff(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert resume_backoff(50) == 5.0


def test_the_log_ids_of_a_task_are_its_ids_and_nothing_of_its_content() -> None:
    task = _task()
    assert log_ids(task) == {
        "fingerprint": "fp-1",
        "alert_id": "a-1",
        "delivery_id": delivery_id("a-1", "webhook", "ops"),
        "channel": "webhook",
        "receiver": "ops",
        "tenant": "acme",
    }
    # a task that failed its checks still logs what it has, cut to a bounded length
    assert log_ids({"delivery_id": "x" * 500, "alert": "not a record"}) == {"delivery_id": "x" * 128}
