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

**Alerts from other systems** (``events.alerts``) go through the worker's
:class:`~alertstream.streams.external_alerts.ExternalEvaluator` in the same call
(:func:`alertstream.streams.external_alerts.evaluate`, the worker's one way to evaluate a batch),
sharing the state, rate limiter, routes and redaction of the config replayed. A firing one whose
end passes without an update is resolved as the worker's end-time timer resolves it
(:mod:`alertstream.streams.external_timer`), at its end: before the first batch that starts after
it, and at the end of the replay up to ``until`` (the window's end).

**The lifecycle** runs as in the worker (:class:`~alertstream.streams.lifecycle.Lifecycle`, the
worker's code): after each batch its alerts go through acknowledgements, inhibition (each config's
own firing view, updated as its episodes start and end), the recorded silences and the routes'
time intervals, and a held notification becomes the worker's ``suppressed`` record; the
worker's one-second tick (:meth:`~alertstream.streams.lifecycle.Lifecycle.step`: user actions,
held episodes released, escalation, missing data, heartbeats) runs every :data:`TICK_MS` of
record time while any episode has lifecycle work (and is skipped while none has). The recorded
silences and user actions (:class:`Noted`) are applied at their record time, before the tick or
batch that follows it, as the worker reads them from their topics.

**Warm-up.** Events before ``count_from`` build state (an episode already firing when the window
starts) but their notifications are not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from alertstream.schemas.actions import Action
from alertstream.schemas.external_alerts import ExternalAlertEvent
from alertstream.schemas.matchers import MatcherError, parse_matchers
from alertstream.schemas.silences import Silence, SilenceError, new_silence
from alertstream.streams.evaluator import AlertOut, BatchResult, Compiled, Evaluator, Event, StoredState
from alertstream.streams.external_alerts import ExternalEvaluator, evaluate
from alertstream.streams.external_timer import EndTimes, row_end
from alertstream.streams.lifecycle import Lifecycle, note_action
from alertstream.streams.lifecycle_config import LifecycleConfig
from alertstream.streams.lifecycle_state import Changes

#: What a replay evaluates: the rules' events and the alerts received from other systems.
Replayed = Event | ExternalAlertEvent

#: Record-time interval between two expiry sweeps (the worker's timer runs every 60 s).
EXPIRY_EVERY_MS = 60_000
#: Events per evaluator call; ``now`` is the newest record time of the batch.
BATCH = 512
#: A batch never spans more than this much record time (``now`` stays close to each event's).
BATCH_SPAN_MS = 1_000
#: Record time between two lifecycle ticks (the worker's tick runs every second).
TICK_MS = 1_000


class Recorded(NamedTuple):
    """One event as recorded on its topic: the record time, the input partition, the event.

    A tuple (one per record read): a frozen dataclass's ``__init__`` was ~8 % of reading."""

    at: int
    partition: int
    event: Replayed


class Noted(NamedTuple):
    """A lifecycle input as recorded: a silence (made or changed), the id of a silence deleted, or
    a user action; ``at`` is when the worker would have read it."""

    at: int
    item: Silence | Action | str


class Notification(NamedTuple):
    """One alert the worker would have emitted (a record on ``alerts``).

    A tuple rather than a frozen dataclass: one is built per alert, and a 12-field frozen
    dataclass's ``__init__`` (an ``object.__setattr__`` per field) was ~4 % of a replay."""

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
    #: ``notify`` (sent), ``suppressed`` (held by the lifecycle: recorded, routed nowhere),
    #: ``acknowledged`` / ``unacknowledged`` (a user's action told the receivers that have the notion)
    event: str = "notify"


@dataclass
class Outcome:
    """What one config did over the history (counted from ``count_from`` on)."""

    name: str
    version: int
    #: every record the worker would have written to ``alerts``, held ones included (``event``)
    records: list[Notification] = field(default_factory=list)
    #: (rule id, reason) -> occurrences suppressed (dedup, grouped, rate_limit, ...)
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: episode states alive at the end (fingerprints still tracked)
    open_states: int = 0

    @property
    def notifications(self) -> list[Notification]:
        """The records that notified someone (``event: notify``): what the report counts."""
        return [n for n in self.records if n.event == "notify"]


def notification(alert: AlertOut) -> Notification:
    record = alert.record
    try:
        reason = str(orjson.loads(record["details"]).get("reason", ""))
    except (ValueError, AttributeError):  # orjson.JSONDecodeError is a ValueError
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
        event=str(record.get("event") or "notify"),
    )


class _Lane:
    """One config's evaluators (the rules' and the received alerts'), state and tallies."""

    def __init__(self, name: str, compiled: Compiled, count_from: int | None, inputs: Sequence[Noted]) -> None:
        self.now_ms = 0
        self.count_from = count_from
        clock = lambda: self.now_ms / 1000  # noqa: E731 (the record time, read by both)
        self.evaluator = Evaluator(compiled, clock=clock)
        self.external = ExternalEvaluator(self.evaluator)
        config = LifecycleConfig.from_config(compiled.config) if compiled.config is not None else LifecycleConfig()
        self.lifecycle = Lifecycle(config, clock)
        self.end_times = EndTimes()
        self.state: dict[str, StoredState] = {}
        #: the lifecycle table (fingerprint -> entry value) and the actions not yet applied
        self.entries: dict[str, Any] = {}
        self.pending: dict[str, Action] = {}
        self.inputs, self.next_input = inputs, 0
        self.outcome = Outcome(name, compiled.version)
        self.last_expiry = 0
        self.last_tick: int | None = None

    def counting(self) -> bool:
        return self.count_from is None or self.now_ms >= self.count_from

    def run(self, batch: Sequence[tuple[int, Replayed]], start_ms: int, now_ms: int) -> None:
        if self.end_times:
            self.resolve_ended(start_ms - 1)  # ends before this batch: the timer ran first
        self.advance(start_ms)
        self.now_ms = now_ms
        result = evaluate(self.evaluator, self.external, batch, self.state.get)
        changes = self.lifecycle.after_batch(batch, result, self.state.get, self.entries.get)  # type: ignore[arg-type]
        result.alerts, result.writes = changes.alerts, changes.writes
        self._apply(result, changes)
        self.evaluator.counts.take_changes()  # the worker publishes these; here there is no one to tell
        if now_ms - self.last_expiry >= EXPIRY_EVERY_MS:
            self.last_expiry = now_ms
            state = self.state
            # the worker sweeps in slices of a tick; here one sweep covers every key at once
            for fp, _partition in self.evaluator.expire_slice(state.keys, state.get, len(state) + 1):
                del state[fp]
            self.evaluator.expire_counts()

    def advance(self, to_ms: int) -> None:
        """What the worker does between batches, up to ``to_ms`` of record time: read the silences
        and actions recorded by then, tick every :data:`TICK_MS` (only while something has
        lifecycle work: a tick over no entry and no pending action changes nothing)."""
        inputs = self.inputs
        if self.last_tick is None:
            self.last_tick = to_ms
        while True:
            tick_at = self.last_tick + TICK_MS
            input_at = inputs[self.next_input].at if self.next_input < len(inputs) else None
            if input_at is not None and input_at <= min(tick_at, to_ms):
                self._note(inputs[self.next_input].item)
                self.next_input += 1
                continue
            if tick_at > to_ms:
                return
            if not self.entries and not self.pending:
                # idle until the next input: on to the last tick before it (at least one tick on)
                horizon = to_ms if input_at is None else min(input_at, to_ms)
                self.last_tick += (horizon - self.last_tick) // TICK_MS * TICK_MS
                continue
            self.last_tick = self.now_ms = tick_at
            entries = self.entries
            changes = self.lifecycle.step(self.pending, list(entries.items()), self.state.get, entries.get, _every)
            self._apply(BatchResult(alerts=changes.alerts, writes=changes.writes), changes)

    def _note(self, item: Silence | Action | str) -> None:
        if isinstance(item, Silence):
            self.lifecycle.put_silence(item)
        elif isinstance(item, Action):
            note_action(self.pending, item)
        else:
            self.lifecycle.drop_silence(item)

    def resolve_ended(self, until_ms: int) -> None:
        """The worker's end-time timer (:mod:`alertstream.streams.external_timer`): every firing
        received alert whose end is at most ``until_ms``, resolved at its end, oldest first. (Every
        write is noted here, so the timer's sweep for states noted by no one has nothing to find.)"""
        state = self.state
        while due := self.end_times.due(until_ms, 1):
            stored = state.get(due[0])
            if stored is not None:
                self.now_ms = max(self.now_ms, row_end(stored[1]))  # the timer ticks at the end
            self._apply(self.external.resolve_due(due, state.get))

    def _apply(self, result: BatchResult, changes: Changes | None = None) -> None:
        """As the worker applies a batch: the alerts, the lifecycle entries and firing view, the rows."""
        if changes is not None:
            entries, view = self.entries, self.lifecycle.view
            for fp, (_partition, value) in changes.entries.items():
                if value is None:
                    entries.pop(fp, None)
                else:
                    entries[fp] = value
            for fp, labels in changes.firing.items():
                if labels is None:
                    view.drop(fp)
                else:
                    view.put(fp, labels)
        state = self.state
        for fp, (partition, row) in result.writes.items():
            if row is None:
                state.pop(fp, None)
            else:
                state[fp] = [partition, row]
        self.end_times.note(result.writes)  # as the worker does after every batch
        if self.counting():
            self.outcome.records += [notification(a) for a in result.alerts]
            self.outcome.suppressed.update(result.suppressed_by_rule)
            if changes is not None:
                self.outcome.suppressed.update(changes.suppressed_by_rule)


def replay(
    events: Iterable[Recorded],
    configs: dict[str, Compiled],
    count_from: int | None = None,
    until: int | None = None,
    lifecycle: Sequence[Noted] = (),
    only: Mapping[str, Sequence[Noted]] | None = None,
) -> dict[str, Outcome]:
    """Feed ``events`` (in order) to one evaluator and lifecycle per config; their outcomes by
    config name. ``lifecycle``: the recorded silences and user actions, in time order; ``only``:
    more of them for one config each (the silences a backtest proposes).

    After the last event, the lifecycle ticks and received alerts whose end passes are resolved up
    to ``until`` (the end of the window; default: the last event's time)."""
    lanes = [
        _Lane(name, compiled, count_from, sorted([*lifecycle, *(only or {}).get(name, ())], key=lambda n: n.at))
        for name, compiled in configs.items()
    ]
    batch: list[tuple[int, Replayed]] = []
    append = batch.append
    span_end = batch_start = batch_end = 0

    def flush() -> None:
        for lane in lanes:
            lane.run(batch, batch_start, batch_end)
        batch.clear()

    # (per event: locals and conditionals only, this loop is the replay's own cost per event)
    for at, partition, event in events:  # (a Recorded unpacked)
        if batch and (
            len(batch) >= BATCH or at > span_end or (count_from is not None and batch_end < count_from <= at)
        ):
            flush()
        if not batch:
            batch_start, span_end = at, at + BATCH_SPAN_MS  # a batch spans at most BATCH_SPAN_MS
        append((partition, event))
        if at > batch_end:
            batch_end = at
    if batch:
        flush()
    last = batch_end if until is None else until
    for lane in lanes:
        lane.resolve_ended(last)
        lane.advance(last)
        lane.outcome.open_states = len(lane.state)
    return {lane.outcome.name: lane.outcome for lane in lanes}


def proposed_silences(texts: Sequence[str], start_ms: int, end_ms: int) -> list[Noted]:
    """Silences a backtest proposes, one per matcher set (``alertname="cpu",entity=~"db-.*"``,
    amtool's syntax), active over the whole replay. Raises SilenceError naming the bad one."""
    out = []
    for i, text in enumerate(texts):
        try:
            matchers = parse_matchers(text)
            silence = new_silence(matchers, start_ms, end_ms, "backtest", "proposed", start_ms, f"proposed-{i + 1}")
        except (MatcherError, SilenceError) as exc:
            raise SilenceError(f"--silence {text!r}: {exc}") from None
        out.append(Noted(start_ms, silence))
    return out


def _every(_partition: int) -> bool:
    """The replay owns every partition."""
    return True


def summary_counts(outcome: Outcome) -> dict[str, Any]:
    """fired / resolved per rule, as the report and the tests read them."""
    fired: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    for n in outcome.notifications:
        (fired if n.status == "firing" else resolved)[n.rule_id] += 1
    return {"fired": dict(fired), "resolved": dict(resolved)}
