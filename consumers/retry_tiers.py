"""Retry tier schedule: where a failed task goes next and when it may run again.

``task.attempt`` counts attempts already made. After attempt *k* failed with a retryable error the
task goes to tier *k* (topic ``alerts.<channel>.retry.<k>``) with ``not_before = now + delay``,
where the delay is the tier's configured delay with ±jitter, raised to the receiver's
``Retry-After`` when that is longer. After the last tier, or at once on a permanent failure, the
task goes to the DLQ.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    delays_seconds: tuple[float, ...]
    jitter: float = 0.2
    max_retry_after_seconds: float = 3600.0

    @property
    def tiers(self) -> int:
        return len(self.delays_seconds)


@dataclass(frozen=True)
class NextStep:
    """``tier`` None = dead-letter; else the 1-based tier and the epoch ms before which not to run."""

    tier: int | None
    not_before_ms: int = 0


def delay_for(schedule: Schedule, tier: int, rng: random.Random | None = None) -> float:
    base = schedule.delays_seconds[tier - 1]
    if schedule.jitter <= 0:
        return base
    factor = (rng or random).uniform(1 - schedule.jitter, 1 + schedule.jitter)
    return base * factor


def next_step(
    schedule: Schedule,
    attempts_made: int,
    now_ms: int,
    permanent: bool = False,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> NextStep:
    """The next step for a task whose ``attempts_made``-th attempt just failed."""
    if permanent or attempts_made > schedule.tiers or attempts_made < 1:
        return NextStep(None)
    delay = delay_for(schedule, attempts_made, rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, schedule.max_retry_after_seconds))
    return NextStep(attempts_made, now_ms + round(delay * 1000))


def due_in_seconds(not_before_ms: int, now_ms: int) -> float:
    """How long a retry consumer must keep a partition paused (0 = due now)."""
    return max(0.0, (not_before_ms - now_ms) / 1000.0)


def schedule_from(delays: Sequence[float], jitter: float, max_retry_after: float) -> Schedule:
    return Schedule(tuple(float(d) for d in delays), jitter, max_retry_after)
