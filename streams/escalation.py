"""The escalation walker: where an unacknowledged firing alert is in its policy — pure.

A policy (:class:`~alertstream.schemas.lifecycle_config.EscalationPolicy`) is ordered steps —
``notify`` a receiver, ``notify_on_call`` of a schedule, ``wait_seconds`` — walked from the first
notification of an episode, then ``repeat`` more times. The position is three integers kept in the
episode's changelogged state (``esc_step``, ``esc_round``, ``esc_due``), so a restart or a
rebalance resumes where the walk was: the worker that owns the partition after it runs the steps
that are due.

**Deterministic pages.** A step runs at its due time (``esc_due``: the walk's start plus the waits
before it), never at "whenever the timer noticed", and its on-call lookup is made *at that due
time*. So the page a step produces — receiver and the alert id derived from (fingerprint, due,
round, step) — is the same whichever worker runs it and however often: a crash after the page was
sent and before the position was written re-sends it with the same alert id, which the delivery
ledger drops (notify once per step).

An acknowledged alert does not walk (the caller does not advance it); ``unacknowledge`` starts the
walk again from its first step; the episode's end stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alertstream.schemas.lifecycle_config import EscalationPolicy

#: (schedule name, at ms) -> the receiver on call then, or None
OnCallLookup = Callable[[str, int], str | None]


@dataclass(frozen=True, slots=True)
class Walk:
    """The next step to run, the round (0 = the first pass), and when it is due (0 = finished)."""

    step: int = 0
    round: int = 0
    due: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """One notification a step produced."""

    policy: str
    step: int
    round: int
    at: int  # the step's due time (ms): part of the alert id
    receiver: str | None  # None: the schedule had nobody on call
    schedule: str | None = None


def start(at_ms: int) -> Walk:
    return Walk(0, 0, at_ms)


def advance(policy: EscalationPolicy, walk: Walk, now_ms: int, on_call: OnCallLookup) -> tuple[Walk, list[Page]]:
    """Run every step due at ``now_ms``; returns the new position and the pages to send."""
    pages: list[Page] = []
    step, rnd, due = walk.step, walk.round, walk.due
    steps = policy.steps
    guard = (policy.repeat + 1) * (len(steps) + 1) + 1  # a pass with no wait cannot loop forever
    while due and due <= now_ms and guard > 0:
        guard -= 1
        if step >= len(steps):
            if rnd < policy.repeat:
                step, rnd = 0, rnd + 1
                continue
            due = 0  # walked to the end
            break
        s = steps[step]
        if s.wait_seconds is not None:
            due += int(s.wait_seconds * 1000)
        elif s.notify is not None:
            pages.append(Page(policy.name, step, rnd, due, s.notify))
        elif s.notify_on_call is not None:
            pages.append(Page(policy.name, step, rnd, due, on_call(s.notify_on_call, due), s.notify_on_call))
        step += 1
    if step >= len(steps) and rnd >= policy.repeat and due and due <= now_ms:
        due = 0
    return Walk(step, rnd, due), pages
