"""Replay recorded events through the evaluator the worker runs, for one or several configs at once.

Pure: no broker, no database, no receiver. Each config gets its own
:class:`~alertstream.streams.evaluator.Evaluator` (the worker's code, unchanged) with fresh
in-memory state; the events are fed to all of them in one pass, in the order given (the history
reader merges partitions by record time and keeps each partition in offset order, as the worker
reads them).

**Time.** The worker stamps a batch with its wall clock (``now``: ``emitted_at``, the ``touched``
time that drives expiry); here ``now`` is the *record time* of the newest event in the batch —
when the live worker would have seen it — so every window (dedup buckets, ``for_seconds``,
repeat interval, rate-limit windows, expiry) runs on the history's own time. Idle state is
expired every :data:`EXPIRY_EVERY_MS` of record time, as the worker's timer does every 60 s.

**Warm-up.** Events before ``count_from`` build state (an episode already firing when the window
starts) but their notifications are not counted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alertstream.streams.evaluator import AlertOut, Compiled, Evaluator, Event, StoredState

#: Record-time interval between two expiry sweeps (the worker's timer runs every 60 s).
EXPIRY_EVERY_MS = 60_000
#: Events per evaluator call; ``now`` is the newest record time of the batch.
BATCH = 512
#: A batch never spans more than this much record time (``now`` stays close to each event's).
BATCH_SPAN_MS = 1_000


@dataclass(frozen=True, slots=True)
class Recorded:
    """One event as recorded on its topic: the record time, the input partition, the event."""

    at: int
    partition: int
    event: Event


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert the worker would have emitted (a record on ``alerts``)."""

    at: int
    status: str
    severity: str
    rule_id: str
    tenant: str
    fingerprint: str
    entity: str
    reason: str
    first_seen: int
    receivers: tuple[str, ...]
    summary: str
    alert_id: str


@dataclass
class Outcome:
    """What one config did over the history (counted from ``count_from`` on)."""

    name: str
    version: int
    notifications: list[Notification] = field(default_factory=list)
    #: (rule id, reason) -> occurrences suppressed (dedup, grouped, rate_limit, ...)
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: episode states alive at the end (fingerprints still tracked)
    open_states: int = 0


def notification(alert: AlertOut) -> Notification:
    record = alert.record
    try:
        reason = str(json.loads(record["details"]).get("reason", ""))
    except (ValueError, AttributeError):
        reason = ""
    return Notification(
        at=int(record["emitted_at"]),
        status=str(record["status"]),
        severity=str(record["severity"]),
        rule_id=str(record["rule_id"]),
        tenant=str(record["tenant"]),
        fingerprint=alert.fingerprint,
        entity=str(record["entity"]),
        reason=reason,
        first_seen=int(record["first_seen"]),
        receivers=tuple(str(r["receiver"]) for r in record["routes"]),
        summary=str(record["summary"]),
        alert_id=str(record["alert_id"]),
    )


class _Lane:
    """One config's evaluator, state and tallies."""

    def __init__(self, name: str, compiled: Compiled) -> None:
        self.now_ms = 0
        self.evaluator = Evaluator(compiled, clock=lambda: self.now_ms / 1000)
        self.state: dict[str, StoredState] = {}
        self.outcome = Outcome(name, compiled.version)
        self.last_expiry = 0

    def run(self, batch: Sequence[tuple[int, Event]], now_ms: int, counting: bool) -> None:
        self.now_ms = now_ms
        result = self.evaluator.process(batch, self.state.get)
        state = self.state
        for fp, (partition, row) in result.writes.items():
            if row is None:
                state.pop(fp, None)
            else:
                state[fp] = [partition, row]
        if counting:
            self.outcome.notifications += [notification(a) for a in result.alerts]
            self.outcome.suppressed.update(result.suppressed_by_rule)
        self.evaluator.counts.take_changes()  # the worker publishes these; here there is no one to tell
        if now_ms - self.last_expiry >= EXPIRY_EVERY_MS:
            self.last_expiry = now_ms
            # the worker sweeps in slices of a tick; here one sweep covers every key at once
            for fp, _partition in self.evaluator.expire_slice(state.keys, state.get, len(state) + 1):
                del state[fp]
            self.evaluator.expire_counts()


def replay(
    events: Iterable[Recorded], configs: dict[str, Compiled], count_from: int | None = None
) -> dict[str, Outcome]:
    """Feed ``events`` (in order) to one evaluator per config; their outcomes by config name."""
    lanes = [_Lane(name, compiled) for name, compiled in configs.items()]
    batch: list[tuple[int, Event]] = []
    batch_start = batch_end = 0

    def flush() -> None:
        counting = count_from is None or batch_end >= count_from
        for lane in lanes:
            lane.run(batch, batch_end, counting)
        batch.clear()

    for rec in events:
        if batch and (
            len(batch) >= BATCH
            or rec.at - batch_start > BATCH_SPAN_MS
            or (count_from is not None and batch_end < count_from <= rec.at)
        ):
            flush()
        if not batch:
            batch_start = rec.at
        batch.append((rec.partition, rec.event))
        batch_end = max(batch_end, rec.at)
    if batch:
        flush()
    for lane in lanes:
        lane.outcome.open_states = len(lane.state)
    return {lane.outcome.name: lane.outcome for lane in lanes}


def summary_counts(outcome: Outcome) -> dict[str, Any]:
    """fired / resolved per rule, as the report and the tests read them."""
    fired: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    for n in outcome.notifications:
        (fired if n.status == "firing" else resolved)[n.rule_id] += 1
    return {"fired": dict(fired), "resolved": dict(resolved)}
