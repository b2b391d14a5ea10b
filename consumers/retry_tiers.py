"""Retry tier schedule: where a failed task goes next and when it may run again.

A task read from tier *n* (0 = ``alerts``) whose attempt failed with a retryable error goes to
tier *n + 1* (topic ``alerts.<channel>.retry.<n+1>``) with ``not_before = now + delay``, where the
delay is the tier's configured delay with ±jitter, raised to the receiver's ``Retry-After`` when
that is longer. After the last tier, or at once on a permanent failure, the task goes to the DLQ.
The tier is where the task is, not its ``attempt`` (which counts requests made): a failed half-open
probe of a receiver that is still down stays on its tier (``advance=False``), so a long outage
costs the tasks that probe it no tiers.

A task read back from tier *n* is never held longer than that tier can ask for
(:func:`clamp_not_before`): a record due in ten years must not park its partition for good.
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
    tier: int,
    now_ms: int,
    permanent: bool = False,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    advance: bool = True,
) -> NextStep:
    """The next step for a task read from ``tier`` (0 = ``alerts``) whose attempt just failed."""
    target = tier + 1 if advance else max(tier, 1)
    if permanent or target > schedule.tiers or target < 1:
        return NextStep(None)
    delay = delay_for(schedule, target, rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, schedule.max_retry_after_seconds))
    return NextStep(target, now_ms + round(delay * 1000))


def max_delay_seconds(schedule: Schedule, tier: int) -> float:
    """The longest wait tier ``tier`` can schedule: its delay at full jitter, or a capped Retry-After."""
    return max(schedule.delays_seconds[tier - 1] * (1 + schedule.jitter), schedule.max_retry_after_seconds)


def clamp_not_before(schedule: Schedule, tier: int, not_before_ms: int, written_ms: int, now_ms: int) -> int:
    """``not_before`` of a task read from ``tier``, at most the tier's longest wait after the record
    was written (its Kafka timestamp; ``now`` when that is missing or in the future)."""
    base = min(written_ms, now_ms) if written_ms > 0 else now_ms
    return min(not_before_ms, base + round(max_delay_seconds(schedule, tier) * 1000))


def wait_step(schedule: Schedule, tier: int, now_ms: int, rng: random.Random | None = None) -> NextStep:
    """Where a task waits that could not be attempted (its receiver's queue is full): tier ``tier``
    (at least 1) with that tier's delay. No attempt was made, so none is counted."""
    tier = min(max(tier, 1), schedule.tiers)
    return NextStep(tier, now_ms + round(delay_for(schedule, tier, rng) * 1000))


def due_in_seconds(not_before_ms: int, now_ms: int) -> float:
    """How long a retry consumer must keep a partition paused (0 = due now)."""
    return max(0.0, (not_before_ms - now_ms) / 1000.0)


def schedule_from(delays: Sequence[float], jitter: float, max_retry_after: float) -> Schedule:
    return Schedule(tuple(float(d) for d in delays), jitter, max_retry_after)
