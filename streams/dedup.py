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

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from alertstream.schemas.rules_config import SEVERITY_ORDER
from alertstream.streams.rules import Observation

Phase = Literal["ok", "pending", "firing"]
MAX_EVENT_IDS = 10


def _rank(severity: str) -> int:
    """0 = critical (most severe); unknown/empty = least."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


@dataclass(frozen=True, slots=True)
class EpisodeState:
    """Everything remembered about one fingerprint; stored as a list row in the state table."""

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

    def to_row(self) -> list[Any]:
        return [getattr(self, name) if name != "event_ids" else list(self.event_ids) for name in _STATE_FIELDS]

    @classmethod
    def from_row(cls, row: list[Any]) -> EpisodeState:
        # Not strict: a row written before a field was appended lacks it and gets its default.
        values = dict(zip(_STATE_FIELDS, row, strict=False))
        values["event_ids"] = tuple(values.get("event_ids", ()))
        values.setdefault("last_at", values["watermark"])  # rows from before the cap: uncapped
        return cls(**values)


#: The changelog row layout (field order), computed once: rows are built and read per event.
_STATE_FIELDS = tuple(f.name for f in fields(EpisodeState))

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


NONE = Decision("none")
LATE = Decision("drop", "late")
OUT_OF_ORDER = Decision("drop", "out_of_order")


def _ids(state: EpisodeState, event_id: str) -> tuple[str, ...]:
    return (*state.event_ids, event_id)[-MAX_EVENT_IDS:]


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
    )
    notified = replace(state, phase="firing", suppressed_count=0, notified_at=obs.at, notified_severity=state.severity)
    return notified, decision


def step(state: EpisodeState | None, obs: Observation, now_ms: int) -> tuple[EpisodeState | None, Decision]:
    """Fold ``obs`` into ``state``; returns the new state (None = nothing to keep) and the decision."""
    rule = obs.rule
    if obs.at < now_ms - rule.max_lateness_seconds * 1000:
        return state, LATE
    capped = min(obs.at, now_ms)  # a clock ahead of the worker's counts as the worker's now
    if state is not None and obs.at <= state.last_at and capped <= state.watermark:
        return state, OUT_OF_ORDER
    ttl = int(rule.group_window_seconds * 1000)
    watermark = max(capped, state.watermark if state else 0)
    last_at = max(obs.at, state.last_at if state else 0)

    if obs.severity is None:
        if state is None:
            return None, NONE
        moved = replace(state, watermark=watermark, last_at=last_at, touched=now_ms)
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
            )
            return replace(ended, value=obs.value), decision
        return moved, NONE  # ok stays ok; firing inside the hysteresis band stays firing

    severity = obs.severity
    if state is None or state.phase == "ok":
        base = state or EpisodeState("ok", 0, now_ms, ttl)
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
        return state, Decision("suppress", "pending")

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
    return replace(state, suppressed_count=state.suppressed_count + 1), Decision(
        "suppress", "dedup" if same_bucket else "grouped"
    )


def deny(before: EpisodeState | None, fired: EpisodeState) -> EpisodeState:
    """A fire the rate limiter refused: keep the episode, undo the notification, count it."""
    suppressed = (before.suppressed_count if before and before.phase == "firing" else 0) + 1
    return replace(
        fired,
        suppressed_count=suppressed,
        notified_at=before.notified_at if before and before.phase == "firing" else 0,
        notified_severity=before.notified_severity if before and before.phase == "firing" else "",
    )


def expired(state: EpisodeState, now_ms: int) -> bool:
    """Untouched for longer than its rule's group window: drop it (bounded memory)."""
    return now_ms - state.touched > state.ttl_ms
