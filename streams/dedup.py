"""The per-fingerprint alert state machine: ``for``, hysteresis, dedup, grouping, resolve, expiry.

One :class:`EpisodeState` per fingerprint; :func:`step` folds one :class:`Observation` into it and
says what to emit. Phases::

    ok ──breach──> pending ──(for_count and for_seconds met)──> firing ──cleared──> ok
         (for_count=1, for_seconds=0 goes straight to firing)     │ (emits one `resolved`)
                                                                  └─ breach: fold, re-notify or escalate

**Dedup window: tumbling.** Windows are fixed buckets of event time (``at // window``), so
whether two occurrences share a window is a pure function of their timestamps: the same on
every worker, after a restart and on replay, and one value per key instead of the overlapping
windows a hopping scheme keeps (bounded memory). Within the bucket of the last notification every
repeat is suppressed (reason ``dedup``); after it, repeats still fold into the open alert
(reason ``grouped``) until ``repeat_interval`` has passed since the last notification, when the
still-firing alert is re-notified with the counts it accumulated. An open group older than
``group_window`` (24 h) is re-notified as a new group. A worse severity is notified at once.

**Resolve** is emitted once per episode whose firing was notified, and is never suppressed
(no dedup, no rate limit). **Expiry:** a state not touched for its rule's group window is dropped
by :func:`expired`, so memory is bounded by the fingerprints active in the last day.

**Event time** (every refusal is counted, never silent — ``Decision("drop", reason)``):

* **Lateness bound:** an event older than its rule's ``max_lateness_seconds`` (default 1 h) before
  the worker's clock is refused, ``late``: a 2-hour-old breach must not fire as a new alert. (A
  worker that falls further behind than the bound drops that part of its backlog — counted; raise
  the bound for producers that deliver in batches.)
* **Order, and idempotence:** an event applies only when it is *newer* than what its fingerprint
  has applied, on either of two clocks: its own timestamp beyond the newest timestamp applied
  (``last_at``: a producer's burst keeps its own order, whatever its clock), or its timestamp
  *capped at the worker's now* beyond the newest capped time applied (``watermark``). Otherwise it
  is ``out_of_order`` — an earlier reading arriving late, the same millisecond as the last applied
  (the first one wins), or a redelivery after a crash: at-least-once input gives the alerts of
  the first pass.
* **Skew cannot wedge an episode:** the cap is what keeps a producer whose clock runs ahead (up to
  the 5-minute future allowance of validation) from holding back producers on real time — without
  it, its timestamps became the watermark, every real-time clear for minutes (forever, while it
  kept sending) was "not newer", and the alert stayed firing. Now a real-time event is refused only
  if it was stamped before the fast producer's event *reached the worker*. The price: a redelivered
  event that was stamped ahead of the worker's clock can be applied again; it then re-emits what
  it emitted the first time, with the same ``alert_id`` (idempotent sinks drop it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from alertstream.schemas.rules_config import SEVERITY_ORDER
from alertstream.streams.rules import Observation

Phase = Literal["ok", "pending", "firing"]
MAX_EVENT_IDS = 10
#: severity -> rank, 0 = critical (most severe); unknown/empty = least.
_RANKS: dict[str, int] = {severity: i for i, severity in enumerate(SEVERITY_ORDER)}
_UNRANKED = len(SEVERITY_ORDER)


def _rank(severity: str) -> int:
    """0 = critical (most severe); unknown/empty = least."""
    return _RANKS.get(severity, _UNRANKED)


class EpisodeState(NamedTuple):
    """Everything remembered about one fingerprint; stored as a list row in the state table.

    Immutable like the frozen dataclass it was, but a tuple: :func:`step` makes one or two new
    states per event, and a tuple is built ~7x faster than an 18-field frozen dataclass, copied
    with changes (:func:`replace`) ~4x faster, and turned into its row by ``list()``. Fields are
    only ever appended (rows written by older versions are shorter: :meth:`from_row`).
    """

    phase: Phase
    watermark: int
    touched: int
    ttl_ms: int
    rule_id: str = ""
    breach_count: int = 0
    breach_started: int = 0
    severity: str = ""
    first_seen: int = 0
    last_seen: int = 0
    occurrence_count: int = 0
    suppressed_count: int = 0
    notified_at: int = 0
    notified_severity: str = ""
    value: float = 0.0
    threshold: float = 0.0
    event_ids: tuple[str, ...] = ()
    #: The newest event timestamp applied, uncapped (``watermark`` is capped at the worker's now).
    last_at: int = 0
    #: Alerts from other systems (:mod:`alertstream.streams.external_alerts`): when the firing
    #: episode ends without an update (0 = no end), and what its resolution is built from.
    ends_at: int = 0
    external: Mapping[str, Any] | None = None
    # -- the alert lifecycle (streams/lifecycle.py); reset when a new episode starts --------------
    #: When a user acknowledged the open episode (0 = not acknowledged), and who.
    acked_at: int = 0
    acked_by: str = ""
    #: Why the firing notification is held back (``silenced:<id>``, ``inhibited:<rule>``, ...).
    held: str = ""
    #: Escalation walk (streams/escalation.py): next step, round, when it is due (0 = none).
    esc_step: int = 0
    esc_round: int = 0
    esc_due: int = 0
    #: The newest user action applied (worker-independent: applying one twice is a no-op).
    action_at: int = 0
    #: When the rule's `nodata` alert was raised for this episode (0 = not raised).
    nodata_at: int = 0
    #: ``suppressed_count`` by reason (``dedup``, ``grouped``, ``rate_limit``); None = none yet, or
    #: a row from before the field (its count is then ``unattributed``: :func:`suppression_breakdown`).
    suppressed_by_reason: Mapping[str, int] | None = None

    def to_row(self) -> list[Any]:
        row: list[Any] = list(self)
        row[_EVENT_IDS] = list(self.event_ids)
        return row

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> EpisodeState:
        # A row written before a field was appended lacks it and gets its default; a longer row
        # (written by a newer version) keeps the fields this version knows.
        values = list(row[:_WIDTH])
        if len(values) == _WIDTH:  # a row of this version: no defaults to fill in (most rows)
            values[_EVENT_IDS] = tuple(values[_EVENT_IDS])
            return _tuple_new(cls, values)  # the tuple itself: skips the generated __new__
        if len(values) > _EVENT_IDS:
            values[_EVENT_IDS] = tuple(values[_EVENT_IDS])
        if len(values) <= _LAST_AT:  # rows from before the cap: uncapped
            return cls(*values)._replace(last_at=values[1])
        return cls(*values)


#: The changelog row layout (field order): positions read per row.
_STATE_FIELDS = EpisodeState._fields
_WIDTH = len(_STATE_FIELDS)
_EVENT_IDS = _STATE_FIELDS.index("event_ids")
_LAST_AT = _STATE_FIELDS.index("last_at")


_INDEX = {name: i for i, name in enumerate(_STATE_FIELDS)}
_WATERMARK, _TOUCHED = _INDEX["watermark"], _INDEX["touched"]
_tuple_new = tuple.__new__


def replace(state: EpisodeState, /, **changes: Any) -> EpisodeState:
    """A copy of ``state`` with ``changes`` (what ``dataclasses.replace`` did for the dataclass).

    ``EpisodeState._replace`` without its extra calls: this runs once or twice per event. The
    copy is a list whose changed positions are set, then made the tuple: ~2x faster than asking
    every one of the 30 fields whether it changed (measured, bench part backtest)."""
    values = list(state)
    index = _INDEX
    for name, value in changes.items():
        at = index.get(name)
        if at is None:
            raise TypeError(f"EpisodeState has no field(s) {sorted(set(changes) - set(index))}")
        values[at] = value
    new: EpisodeState = _tuple_new(EpisodeState, values)
    return new


def _touched(state: EpisodeState, watermark: int, last_at: int, now_ms: int) -> EpisodeState:
    """``replace(state, watermark=, last_at=, touched=)``: a healthy reading of a known key, ~90 %
    of the events of a healthy system, so built without the keyword round trip."""
    values = list(state)
    values[_WATERMARK] = watermark
    values[_TOUCHED] = now_ms
    values[_LAST_AT] = last_at
    new: EpisodeState = _tuple_new(EpisodeState, values)
    return new


#: ``drop``: the event is refused for its time (``late``, ``out_of_order``); the state is unchanged.
Action = Literal["fire", "resolve", "suppress", "drop", "none"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to emit for one observation. For fire/resolve it carries the alert's counts."""

    action: Action
    reason: str = ""
    severity: str = ""
    occurrence_count: int = 0
    suppressed_count: int = 0
    first_seen: int = 0
    last_seen: int = 0
    event_ids: tuple[str, ...] = ()
    suppressed_by_reason: Mapping[str, int] | None = None


NONE = Decision("none")
LATE = Decision("drop", "late")
OUT_OF_ORDER = Decision("drop", "out_of_order")
#: The suppressions carry no counts: one instance each instead of one per event.
PENDING = Decision("suppress", "pending")
DEDUP = Decision("suppress", "dedup")
GROUPED = Decision("suppress", "grouped")


def _ids(state: EpisodeState, event_id: str) -> tuple[str, ...]:
    return (*state.event_ids, event_id)[-MAX_EVENT_IDS:]


def _counted(by_reason: Mapping[str, int] | None, reason: str) -> dict[str, int]:
    out = dict(by_reason or {})
    out[reason] = out.get(reason, 0) + 1
    return out


def suppression_breakdown(count: int, by_reason: Mapping[str, int] | None) -> dict[str, int]:
    """The ``count`` suppressions folded into an alert, by reason. A state written before the
    reasons were kept carries a count without them: that remainder is ``unattributed``, so the
    breakdown always adds up to the count."""
    out = {str(k): int(v) for k, v in (by_reason or {}).items() if v}
    rest = count - sum(out.values())
    if rest > 0:
        out["unattributed"] = rest
    return out


def _fire(state: EpisodeState, obs: Observation, reason: str) -> tuple[EpisodeState, Decision]:
    decision = Decision(
        "fire",
        reason,
        state.severity,
        state.occurrence_count,
        state.suppressed_count,
        state.first_seen,
        state.last_seen,
        state.event_ids,
        state.suppressed_by_reason,
    )
    notified = replace(
        state,
        phase="firing",
        suppressed_count=0,
        suppressed_by_reason=None,
        notified_at=obs.at,
        notified_severity=state.severity,
    )
    return notified, decision


def step(state: EpisodeState | None, obs: Observation, now_ms: int) -> tuple[EpisodeState | None, Decision]:
    """Fold ``obs`` into ``state``; returns the new state (None = nothing to keep) and the decision."""
    rule = obs.rule
    if obs.at < now_ms - rule.max_lateness_seconds * 1000:
        return state, LATE
    at = obs.at
    capped = at if at < now_ms else now_ms  # a clock ahead of the worker's counts as the worker's now
    if state is not None and at <= state.last_at and capped <= state.watermark:
        return state, OUT_OF_ORDER
    severity = obs.severity
    # (conditionals rather than max(): this runs for every event)
    if severity is None:
        if state is None:
            return None, NONE
        watermark = capped if capped > state.watermark else state.watermark
        last_at = at if at > state.last_at else state.last_at
        moved = _touched(state, watermark, last_at, now_ms)
        if state.phase == "pending":
            return replace(moved, phase="ok", breach_count=0), NONE
        if state.phase == "firing" and obs.cleared:
            ended = replace(moved, phase="ok", breach_count=0, notified_at=0, notified_severity="", last_seen=obs.at)
            if not state.notified_at:  # its firing never went out (rate limited): nothing to resolve
                return ended, NONE
            decision = Decision(
                "resolve",
                "cleared",
                state.severity,
                state.occurrence_count,
                state.suppressed_count,
                state.first_seen,
                obs.at,
                state.event_ids,
                state.suppressed_by_reason,
            )
            return replace(ended, value=obs.value), decision
        return moved, NONE  # ok stays ok; firing inside the hysteresis band stays firing

    watermark = capped if state is None or capped > state.watermark else state.watermark
    last_at = at if state is None or at > state.last_at else state.last_at
    ttl = int(rule.group_window_seconds * 1000)
    if state is None or state.phase == "ok":
        base = state or EpisodeState("ok", 0, now_ms, ttl)  # (replaced at once: its defaults only)
        state = replace(
            base,
            phase="pending",
            rule_id=rule.id,
            breach_count=0,
            breach_started=obs.at,
            severity=severity,
            first_seen=obs.at,
            occurrence_count=0,
            suppressed_count=0,
            suppressed_by_reason=None,
            notified_at=0,
            notified_severity="",
            event_ids=(),
        )
    worse = severity if _rank(severity) < _rank(state.severity) else state.severity
    state = replace(
        state,
        watermark=watermark,
        last_at=last_at,
        touched=now_ms,
        ttl_ms=ttl,
        breach_count=state.breach_count + 1,
        occurrence_count=state.occurrence_count + 1,
        last_seen=obs.at,
        severity=worse,
        value=obs.value,
        threshold=obs.threshold,
        event_ids=_ids(state, obs.event_id),
    )

    if state.phase == "pending":
        held = obs.at - state.breach_started >= rule.for_seconds * 1000
        if state.breach_count >= rule.for_count and held:
            return _fire(state, obs, "new")
        return state, PENDING

    # firing
    if not state.notified_at:
        return _fire(state, obs, "new")  # the first notification was rate limited: try again
    if _rank(state.severity) < _rank(state.notified_severity):
        return _fire(state, obs, "escalated")
    if obs.at - state.first_seen >= rule.group_window_seconds * 1000:
        regrouped = replace(state, first_seen=obs.at, occurrence_count=1, event_ids=(obs.event_id,))
        return _fire(regrouped, obs, "regroup")
    window = int(rule.dedup_window_seconds * 1000)
    same_bucket = obs.at // window == state.notified_at // window
    if not same_bucket and obs.at - state.notified_at >= rule.repeat_interval_seconds * 1000:
        return _fire(state, obs, "repeat")
    reason = "dedup" if same_bucket else "grouped"
    folded = replace(
        state,
        suppressed_count=state.suppressed_count + 1,
        suppressed_by_reason=_counted(state.suppressed_by_reason, reason),
    )
    return folded, DEDUP if same_bucket else GROUPED


def deny(before: EpisodeState | None, fired: EpisodeState) -> EpisodeState:
    """A fire the rate limiter refused: keep the episode, undo the notification, count it."""
    firing = before is not None and before.phase == "firing"
    suppressed = (before.suppressed_count if before and firing else 0) + 1
    return replace(
        fired,
        suppressed_count=suppressed,
        suppressed_by_reason=_counted(before.suppressed_by_reason if before and firing else None, "rate_limit"),
        notified_at=before.notified_at if before and before.phase == "firing" else 0,
        notified_severity=before.notified_severity if before and before.phase == "firing" else "",
    )


def expired(state: EpisodeState, now_ms: int) -> bool:
    """Untouched for longer than its rule's group window: drop it (bounded memory)."""
    return now_ms - state.touched > state.ttl_ms
