from __future__ import annotations

import random

import pytest

from alertstream.consumers.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from alertstream.consumers.retry_tiers import NextStep, Schedule, due_in_seconds, next_step

S = Schedule((10.0, 60.0, 600.0, 3600.0), jitter=0.2, max_retry_after_seconds=3600.0)


@pytest.mark.parametrize(("source", "tier", "base"), [(0, 1, 10.0), (1, 2, 60.0), (2, 3, 600.0), (3, 4, 3600.0)])
def test_each_failure_goes_to_the_next_tier_with_jittered_delay(source: int, tier: int, base: float) -> None:
    rng = random.Random(7)
    delays = []
    for _ in range(200):
        step = next_step(S, source, 1_000_000, rng=rng)
        assert step.tier == tier
        delays.append((step.not_before_ms - 1_000_000) / 1000)
    assert min(delays) >= base * 0.8
    assert max(delays) <= base * 1.2
    assert max(delays) - min(delays) > base * 0.2, "jitter spreads the retries"


def test_after_the_last_tier_and_on_permanent_failure_the_task_is_dead_lettered() -> None:
    assert next_step(S, 4, 0) == NextStep(None)
    assert next_step(S, 0, 0, permanent=True) == NextStep(None)


def test_a_failed_probe_stays_on_its_tier_even_the_last() -> None:
    s = Schedule((1.0, 2.0), jitter=0.0)
    assert next_step(s, 0, 0, advance=False) == NextStep(1, 1_000), "from `alerts`: tier 1"
    assert next_step(s, 2, 0, advance=False) == NextStep(2, 2_000), "the last tier: not the DLQ"
    assert next_step(s, 2, 0, permanent=True, advance=False) == NextStep(None)


def test_retry_after_raises_the_delay_but_is_capped() -> None:
    s = Schedule((1.0,), jitter=0.0, max_retry_after_seconds=120.0)
    assert next_step(s, 0, 0, retry_after=30.0) == NextStep(1, 30_000)
    assert next_step(s, 0, 0, retry_after=0.2) == NextStep(1, 1_000)
    assert next_step(s, 0, 0, retry_after=99999.0) == NextStep(1, 120_000)


def test_due_in() -> None:
    assert due_in_seconds(5_000, 2_000) == 3.0
    assert due_in_seconds(1_000, 2_000) == 0.0


def test_breaker_opens_after_n_failures_probes_once_then_closes() -> None:
    b = Breaker(failure_threshold=3, cooldown_seconds=10.0)
    for t in range(2):
        assert b.allow(t)
        b.failure(t)
    assert b.state == CLOSED
    assert b.allow(2)
    b.failure(2)
    assert b.state == OPEN
    assert not b.allow(5)
    assert not b.allow(11.9)
    assert b.allow(12.0), "cool-down over: one probe"
    assert b.state == HALF_OPEN
    assert not b.allow(12.1), "only one probe at a time"
    b.success()
    assert b.state == CLOSED
    assert b.allow(12.2)


def test_a_failed_probe_reopens_for_a_full_cooldown() -> None:
    b = Breaker(failure_threshold=1, cooldown_seconds=5.0)
    b.failure(0)
    assert b.allow(5)
    b.failure(5)
    assert b.state == OPEN
    assert not b.allow(9.9)
    assert b.allow(10)


def test_success_resets_the_consecutive_count() -> None:
    b = Breaker(failure_threshold=2, cooldown_seconds=5.0)
    b.failure(0)
    b.success()
    b.failure(1)
    assert b.state == CLOSED
