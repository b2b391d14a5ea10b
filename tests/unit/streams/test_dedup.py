"""The per-fingerprint state machine, driven event by event through the pure evaluator."""

from __future__ import annotations

import json
from typing import Any

from alertstream.schemas.config import parse_config
from alertstream.schemas.events import MetricEvent
from alertstream.streams.dedup import EpisodeState, expired, step
from alertstream.streams.evaluator import Compiled, Evaluator, StoredState
from alertstream.streams.rules import RuleSet
from tests.unit.streams.helpers import T0, metric, rule

MIN = 60_000


class Harness:
    """An evaluator over a dict store; ``feed`` returns (status, severity) of each emitted alert."""

    def __init__(self, **rule_kw: Any) -> None:
        config = parse_config(
            {"rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70, "critical": 90, **rule_kw}]}, "t"
        )
        self.now = T0 / 1000
        self.evaluator = Evaluator(Compiled.from_config(config), clock=lambda: self.now)
        self.store: dict[str, StoredState] = {}
        self.alerts: list[dict[str, Any]] = []
        self.suppressed: dict[str, int] = {}

    def feed(self, *values: float, start: int = T0, gap: int = 1000) -> list[tuple[str, str]]:
        return self.run([(0, metric(v, start + i * gap, event_id=f"e{start + i * gap}")) for i, v in enumerate(values)])

    def run(self, events: list[tuple[int, MetricEvent]]) -> list[tuple[str, str]]:
        """Evaluate one batch, apply its writes like the worker does; (status, severity) emitted."""
        result = self.evaluator.process(events, self.store.get)
        for fp, (p, row) in result.writes.items():
            if row is None:
                self.store.pop(fp, None)
            else:
                self.store[fp] = [p, row]
        for reason, n in result.suppressed.items():
            self.suppressed[reason] = self.suppressed.get(reason, 0) + n
        self.alerts += [a.record for a in result.alerts]
        return [(a.record["status"], a.record["severity"]) for a in result.alerts]


def test_first_breach_fires_and_repeats_in_the_dedup_window_are_suppressed() -> None:
    h = Harness()
    assert h.feed(80, 81, 82, 83) == [("firing", "warning")]
    assert h.suppressed == {"dedup": 3}
    assert h.alerts[0]["occurrence_count"] == 1
    assert h.alerts[0]["suppressed_count"] == 0


def test_for_count_needs_consecutive_breaches() -> None:
    h = Harness(for_count=3)
    assert h.feed(80, 80, 10, 80, 80) == []  # the reset in the middle restarts the count
    assert h.feed(80, start=T0 + 10_000) == [("firing", "warning")]
    alert = h.alerts[0]
    assert alert["occurrence_count"] == 3
    assert alert["first_seen"] == T0 + 3000  # the first breach of the run that fired
    assert alert["last_seen"] == T0 + 10_000
    assert len(alert["event_ids"]) == 3


def test_for_seconds_needs_the_breach_to_last() -> None:
    h = Harness(for_seconds=30)
    assert h.feed(80, 80, 80, gap=10_000) == []  # 0 s, 10 s, 20 s
    assert h.feed(80, start=T0 + 30_000) == [("firing", "warning")]


def test_hysteresis_values_hovering_at_the_threshold_do_not_flap() -> None:
    h = Harness(clear=60)
    values = [71, 69, 71, 68, 72, 65, 71, 69]  # around 70, never at/below clear
    assert h.feed(*values) == [("firing", "warning")]
    assert h.feed(59, start=T0 + 20_000) == [("resolved", "warning")]


def test_without_hysteresis_the_same_values_flap() -> None:
    h = Harness()
    emitted = h.feed(71, 69, 71, 69)
    assert emitted == [("firing", "warning"), ("resolved", "warning"), ("firing", "warning"), ("resolved", "warning")]


def test_resolve_is_emitted_once_per_episode_and_never_suppressed() -> None:
    h = Harness()
    assert h.feed(95, 95, 10, 10, 10) == [("firing", "critical"), ("resolved", "critical")]
    # a new episode inside the same dedup bucket still fires and resolves (state changes are never deduped)
    assert h.feed(80, 10, start=T0 + 6000) == [("firing", "warning"), ("resolved", "warning")]
    resolved = [a for a in h.alerts if a["status"] == "resolved"]
    assert [a["occurrence_count"] for a in resolved] == [2, 1]
    assert resolved[0]["suppressed_count"] == 1
    assert json.loads(resolved[0]["details"])["suppressed_by_reason"] == {"dedup": 1}
    # a fresh firing starts its own count: nothing folded into it yet
    assert json.loads(h.alerts[0]["details"])["suppressed_by_reason"] == {}
    assert resolved[0]["last_seen"] == T0 + 2000


def test_nothing_to_resolve_without_a_firing() -> None:
    h = Harness(for_count=5)
    assert h.feed(80, 80, 10, 10) == []


def test_grouping_folds_repeats_after_the_dedup_window_until_repeat_interval() -> None:
    h = Harness(dedup_window_seconds=600, repeat_interval_seconds=3600)
    assert h.feed(80) == [("firing", "warning")]
    # one event a minute for 59 minutes: those still in the firing's tumbling 10-minute bucket
    # (aligned to the epoch; T0 is 3 min 20 s into one, so 6 minutes are left) are dedup, the rest grouped
    assert h.feed(*[80] * 59, start=T0 + MIN, gap=MIN) == []
    assert h.suppressed == {"dedup": 6, "grouped": 53}
    # at one hour the still-firing alert is re-notified with what it folded
    assert h.feed(80, start=T0 + 60 * MIN) == [("firing", "warning")]
    repeat = h.alerts[-1]
    assert repeat["suppressed_count"] == 59
    assert json.loads(repeat["details"])["suppressed_by_reason"] == {"dedup": 6, "grouped": 53}
    assert repeat["occurrence_count"] == 61
    assert repeat["first_seen"] == T0
    assert repeat["alert_id"] != h.alerts[0]["alert_id"]


def test_repeat_interval_zero_means_once_per_tumbling_dedup_bucket() -> None:
    h = Harness(dedup_window_seconds=600, repeat_interval_seconds=0)
    bucket_start = T0 - T0 % 600_000
    emitted = h.feed(80, 80, 80, 80, start=bucket_start + 599_000, gap=500)  # straddles a bucket edge
    assert emitted == [("firing", "warning"), ("firing", "warning")]


def test_group_window_starts_a_new_group() -> None:
    h = Harness(group_window_seconds=3600, repeat_interval_seconds=3600, dedup_window_seconds=600)
    h.feed(80)
    h.feed(*[80] * 5, start=T0 + 10 * MIN, gap=10 * MIN)
    assert h.feed(80, start=T0 + 60 * MIN) == [("firing", "warning")]
    assert h.alerts[-1]["first_seen"] == T0 + 60 * MIN
    assert h.alerts[-1]["occurrence_count"] == 1


def test_escalation_to_critical_notifies_at_once() -> None:
    h = Harness()
    assert h.feed(80, 81, 95, 96, 80) == [("firing", "warning"), ("firing", "critical")]
    assert h.feed(10, start=T0 + 9000) == [("resolved", "critical")]


def test_late_and_redelivered_events_change_nothing() -> None:
    h = Harness()
    h.feed(80, 10, 80, 10)
    before = len(h.alerts), dict(h.store)
    assert h.feed(80, 10, 80, 10) == []  # the same events again (at-least-once redelivery)
    assert (len(h.alerts), h.store) == before


def test_fingerprints_are_independent_per_entity_and_tenant() -> None:
    h = Harness()
    events = [
        (0, metric(80, T0, source="a")),
        (0, metric(80, T0, source="b")),
        (0, metric(80, T0, source="a", tenant="other")),
        (0, metric(81, T0 + 1, source="a")),
    ]
    result = h.evaluator.process(events, h.store.get)
    assert len(result.alerts) == 3
    assert len({a.fingerprint for a in result.alerts}) == 3


def test_state_is_written_once_per_key_per_batch() -> None:
    h = Harness()
    result = h.evaluator.process([(3, metric(80 + i, T0 + i)) for i in range(50)], h.store.get)
    assert len(result.writes) == 1
    assert next(iter(result.writes.values()))[0] == 3  # the source partition travels with the write


def test_healthy_events_keep_no_state() -> None:
    h = Harness()
    h.feed(10, 20, 30)
    assert h.store == {}


def test_state_expires_after_the_group_window() -> None:
    h = Harness(group_window_seconds=3600, repeat_interval_seconds=600)
    h.feed(80)
    assert h.evaluator.expire_slice(h.store.keys, h.store.get, 100) == []
    h.now += 3601
    assert h.evaluator.expire_slice(h.store.keys, h.store.get, 100) == [(next(iter(h.store)), 0)]


def test_state_row_round_trips() -> None:
    rs = RuleSet([rule()])
    obs = rs.metric(metric(95))[0]
    state, _ = step(None, obs, T0)
    assert state is not None
    assert EpisodeState.from_row(state.to_row()) == state
    assert not expired(state, T0)


def test_suppressions_counted_before_the_state_kept_reasons_are_unattributed() -> None:
    h = Harness()
    h.feed(80, 81)  # fires, then one dedup suppression
    (fp, (partition, row)) = next(iter(h.store.items()))
    cut = EpisodeState._fields.index("suppressed_by_reason")
    h.store[fp] = [partition, row[:cut]]  # a row written before the field was appended
    assert h.feed(95, start=T0 + 5000) == [("firing", "critical")]
    escalated = h.alerts[-1]
    assert escalated["suppressed_count"] == 1
    assert json.loads(escalated["details"])["suppressed_by_reason"] == {"unattributed": 1}


def test_rows_from_an_older_layout_get_defaults_for_appended_fields() -> None:
    full = EpisodeState("firing", T0, T0, 1000, "cpu", event_ids=("a",))
    cut = EpisodeState._fields.index("event_ids")
    row = full.to_row()[:cut]  # as if event_ids (and what follows) had been appended after this row was written
    assert EpisodeState.from_row(row).event_ids == ()


# -- event time: lateness, order and clock skew ------------------------------------------------


class Live(Harness):
    """A harness whose worker clock is real time ``now`` (ms), not the events' time."""

    def at(self, now_ms: int) -> Live:
        self.now = now_ms / 1000
        return self

    def one(self, value: float, at: int, event_id: str, source: str = "h1") -> list[tuple[str, str]]:
        return self.run([(0, metric(value, at, event_id=event_id, source=source))])


def test_a_producer_clock_minutes_fast_cannot_hold_back_real_time_clears() -> None:
    """One producer 4 minutes fast (inside the 5-minute future allowance) used to push the
    watermark 4 minutes ahead: every real-time clear after it was "late" and the alert stayed firing."""
    h = Live()
    now = T0
    assert h.at(now).one(95, now + 4 * MIN, "fast-1") == [("firing", "critical")]
    assert h.at(now + 1000).one(10, now + 1000, "real-1") == [("resolved", "critical")]
    # and it keeps working while the fast producer keeps sending
    assert h.at(now + 2000).one(95, now + 4 * MIN + 2000, "fast-2") == [("firing", "critical")]
    assert h.at(now + 3000).one(10, now + 3000, "real-2") == [("resolved", "critical")]
    assert h.suppressed == {}


def test_a_burst_from_a_clock_slightly_ahead_is_applied_in_its_own_order() -> None:
    h = Live().at(T0)
    values = [(80, T0 + 50), (85, T0 + 51), (10, T0 + 52)]  # all a little ahead of the worker, one batch
    assert h.run([(0, metric(v, at, event_id=f"b{at}")) for v, at in values]) == [
        ("firing", "warning"),
        ("resolved", "warning"),
    ]
    assert h.suppressed == {"dedup": 1}


def test_an_event_older_than_the_lateness_bound_is_refused_and_counted() -> None:
    """A 2-hour-old breach used to fire as a new alert."""
    h = Live().at(T0)
    assert h.one(95, T0 - 2 * 3600 * 1000, "old") == []
    assert h.suppressed == {"late": 1}
    assert h.store == {}
    assert h.one(95, T0 - 59 * MIN, "recent") == [("firing", "critical")]  # inside the default hour


def test_the_lateness_bound_is_per_rule() -> None:
    h = Live(max_lateness_seconds=6 * 3600).at(T0)
    assert h.one(95, T0 - 2 * 3600 * 1000, "old") == [("firing", "critical")]


def test_out_of_order_same_millisecond_and_redelivered_events_are_counted() -> None:
    h = Live().at(T0 + 10_000)
    assert h.one(80, T0 + 5000, "e1") == [("firing", "warning")]
    assert h.one(10, T0 + 1000, "older") == []  # out of order: an earlier reading arriving late
    assert h.one(10, T0 + 5000, "same-ms") == []  # the same millisecond: the first one wins
    assert h.one(80, T0 + 5000, "e1") == []  # a redelivery
    assert h.suppressed == {"out_of_order": 3}
    assert h.one(10, T0 + 6000, "e2") == [("resolved", "warning")]


def test_rows_from_before_the_raw_watermark_replay_as_no_ops() -> None:
    """A row stored before ``last_at`` existed takes its watermark as the newest time applied."""
    h = Live().at(T0 + 10_000)
    h.one(80, T0 + 5000, "e1")
    fp, (p, row) = next(iter(h.store.items()))
    h.store[fp] = [p, row[: len(row) - 1]]  # as written by the previous layout
    assert EpisodeState.from_row(row[: len(row) - 1]).last_at == T0 + 5000
    assert h.one(80, T0 + 5000, "e1") == []
    assert h.suppressed == {"out_of_order": 1}
