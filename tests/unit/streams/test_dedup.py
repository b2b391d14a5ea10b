"""The per-fingerprint state machine, driven event by event through the pure evaluator."""

from __future__ import annotations

from typing import Any

from alertstream.schemas.config import parse_config
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
        events = [(0, metric(v, start + i * gap, event_id=f"e{start + i * gap}")) for i, v in enumerate(values)]
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


def test_rows_from_an_older_layout_get_defaults_for_appended_fields() -> None:
    full = EpisodeState("firing", T0, T0, 1000, "cpu", event_ids=("a",))
    row = full.to_row()[:-1]  # as if event_ids had been appended after this row was written
    assert EpisodeState.from_row(row).event_ids == ()
