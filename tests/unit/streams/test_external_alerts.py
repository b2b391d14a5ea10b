"""Alerts from other systems through the pure evaluator: Alertmanager's endsAt / resolve_timeout
semantics, dedup and grouping, routing by matchers, the end-time index, and the records."""

from __future__ import annotations

import json
from typing import Any

from alertstream.schemas.codec import ALERT, Codec
from alertstream.schemas.config import parse_config
from alertstream.schemas.external_alerts import ExternalAlertEvent, fingerprint
from alertstream.streams.dedup import EpisodeState
from alertstream.streams.evaluator import Compiled, Evaluator, StoredState
from alertstream.streams.external_alerts import ExternalEvaluator, merged_end, split
from alertstream.streams.external_timer import EndTimes, row_end

T0 = 1_800_000_000_000
MIN = 60_000
LABELS = {"alertname": "DiskFull", "instance": "db-1", "severity": "critical"}


def config(**external: Any) -> dict[str, Any]:
    return {
        "external_alerts": external,
        "receivers": [
            {"name": "ops", "channel": "webhook", "url": "https://ops.example.com/hook"},
            {"name": "db", "channel": "webhook", "url": "https://db.example.com/hook"},
        ],
        "routes": {
            "receiver": "ops",
            "routes": [{"matchers": ['alertname=~"Disk.*"', 'instance!="db-9"'], "receiver": "db"}],
        },
    }


class Harness:
    """The external evaluator over a dict store, applying writes like the worker (and noting ends)."""

    def __init__(self, **external: Any) -> None:
        self.now = T0 / 1000
        self.evaluator = Evaluator(Compiled.from_config(parse_config(config(**external), "t")), clock=lambda: self.now)
        self.external = ExternalEvaluator(self.evaluator)
        self.store: dict[str, StoredState] = {}
        self.ends = EndTimes()
        self.alerts: list[dict[str, Any]] = []
        self.suppressed: dict[str, int] = {}

    def _apply(self, result: Any) -> list[tuple[str, str]]:
        for fp, (p, row) in result.writes.items():
            if row is None:
                self.store.pop(fp, None)
            else:
                self.store[fp] = [p, row]
        self.ends.note(result.writes)
        for k, v in result.suppressed.items():
            self.suppressed[k] = self.suppressed.get(k, 0) + v
        self.alerts += [a.record for a in result.alerts]
        return [(a.record["status"], a.record["severity"]) for a in result.alerts]

    def send(self, at: int, ends_at: int | None = None, labels: dict[str, str] | None = None, **kw: Any) -> list[Any]:
        """The API received one alert at ``at`` (the worker's clock is then ``at`` too)."""
        self.now = max(self.now, at / 1000)
        event = ExternalAlertEvent(f"e{at}", "acme", labels or LABELS, at, ends_at=ends_at, **kw)
        return self._apply(self.external.process([(2, event)], self.store.get))

    def tick(self, at: int) -> list[tuple[str, str]]:
        """The end-time timer at worker time ``at``: sweep, pop what is due, resolve it."""
        self.now = at / 1000
        self.ends.sweep(self.store.keys, self.store.get, 1000)
        return self._apply(self.external.resolve_due(self.ends.due(at, 1000), self.store.get))

    def state(self) -> EpisodeState:
        return EpisodeState.from_row(self.store[fingerprint("acme", LABELS)][1])


def test_without_ends_at_an_alert_ends_resolve_timeout_after_it_was_received() -> None:
    h = Harness()  # resolve_timeout 5 min
    assert h.send(T0) == [("firing", "critical")]
    assert h.state().ends_at == T0 + 5 * MIN
    assert h.tick(T0 + 5 * MIN - 1) == []
    assert h.tick(T0 + 5 * MIN) == [("resolved", "critical")]
    assert h.tick(T0 + 6 * MIN) == []  # once
    resolved = h.alerts[-1]
    assert resolved["last_seen"] == T0 + 5 * MIN
    assert json.loads(resolved["details"])["ended"] is True


def test_re_sending_extends_the_end_and_a_configured_timeout_applies() -> None:
    h = Harness(resolve_timeout_seconds=60)
    assert h.send(T0) == [("firing", "critical")]
    assert h.send(T0 + 50_000) == []  # deduplicated, end moved to T0 + 110 s
    assert h.suppressed == {"dedup": 1}
    assert h.tick(T0 + 61_000) == []
    assert h.tick(T0 + 110_000) == [("resolved", "critical")]


def test_an_explicit_end_in_the_past_resolves_at_once_and_only_a_notified_episode() -> None:
    h = Harness()
    assert h.send(T0, ends_at=T0 - 1) == []  # never fired: nothing to resolve, no state kept
    assert h.store == {}
    assert h.send(T0 + 1000, ends_at=T0 + 4 * MIN) == [("firing", "critical")]
    assert h.send(T0 + 2000, ends_at=T0 + 2000) == [("resolved", "critical")]  # endsAt == received: resolved
    assert h.state().phase == "ok"
    assert h.state().ends_at == 0
    assert h.tick(T0 + 10 * MIN) == []


def test_merge_keeps_a_later_explicit_end_against_a_timeout_or_an_earlier_explicit_one() -> None:
    h = Harness()
    h.send(T0, ends_at=T0 + 30 * MIN)
    h.send(T0 + MIN)  # no endsAt: now + 5 min would be earlier than the explicit end
    assert h.state().ends_at == T0 + 30 * MIN
    h.send(T0 + 2 * MIN, ends_at=T0 + 10 * MIN)
    assert h.state().ends_at == T0 + 30 * MIN  # Alertmanager: a later explicit end is not shortened
    h2 = Harness()
    h2.send(T0)  # timeout end T0 + 5 min
    h2.send(T0 + MIN, ends_at=T0 + 2 * MIN)  # an explicit end replaces a timeout, even an earlier one
    assert h2.state().ends_at == T0 + 2 * MIN


def test_merged_end_is_alertmanagers_merge() -> None:
    e = ExternalAlertEvent("e", "acme", LABELS, T0)
    assert merged_end(None, e, 300_000) == (T0 + 300_000, True)
    assert merged_end(None, ExternalAlertEvent("e", "acme", LABELS, T0, ends_at=T0 + 5), 1) == (T0 + 5, False)
    assert merged_end(None, ExternalAlertEvent("e", "acme", LABELS, T0, ends_at=T0), 1) == (T0, False)


def test_an_update_after_the_end_resolves_the_old_episode_first_then_fires_a_new_one() -> None:
    h = Harness()
    h.send(T0)
    # the timer has not run: the late update sees the ended episode, resolves it at its end, fires again
    assert h.send(T0 + 7 * MIN) == [("resolved", "critical"), ("firing", "critical")]
    assert h.alerts[1]["last_seen"] == T0 + 5 * MIN
    # the same resolution as the timer's: same alert id
    h2 = Harness()
    h2.send(T0)
    h2.tick(T0 + 6 * MIN)
    assert h2.alerts[1]["alert_id"] == h.alerts[1]["alert_id"]


def test_repeat_interval_re_notifies_a_still_firing_alert_and_worse_severity_escalates() -> None:
    h = Harness(resolve_timeout_seconds=3600, repeat_interval_seconds=1800, dedup_window_seconds=600)
    warning = {**LABELS, "severity": "warning"}
    assert h.send(T0, labels=warning) == [("firing", "warning")]
    assert h.send(T0 + MIN, labels=warning) == []
    assert h.send(T0 + 31 * MIN, labels=warning) == [("firing", "warning")]
    assert h.alerts[-1]["suppressed_count"] == 1
    assert json.loads(h.alerts[-1]["details"])["suppressed_by_reason"] == {"dedup": 1}
    # a different label set is another alert; the same one with severity=critical is another too
    assert h.send(T0 + 32 * MIN, labels=LABELS) == [("firing", "critical")]


def test_severity_comes_from_the_configured_label_and_map() -> None:
    h = Harness(severity_label="priority", severity_map={"P1": "critical"}, default_severity="info")
    assert h.send(T0, labels={"alertname": "A", "priority": "P1"}) == [("firing", "critical")]
    assert h.send(T0, labels={"alertname": "B", "priority": "WARNING"}) == [("firing", "warning")]
    assert h.send(T0, labels={"alertname": "C"}) == [("firing", "info")]


def test_records_are_valid_alerts_routed_by_matchers_and_redacted() -> None:
    h = Harness()
    h.send(
        T0,
        annotations={"summary": "disk of db-1 full, mail dba@example.com"},
        generator_url="http://prom:9090/graph?g0.expr=x",
        starts_at=T0 - MIN,
    )
    h.send(T0, labels={"alertname": "Down", "instance": "web-1"})
    disk, down = h.alerts
    Codec().encode(ALERT, disk)  # fits the Alert schema
    assert disk["rule_id"] == "DiskFull"
    assert disk["tenant"] == "acme"
    assert disk["fingerprint"] == fingerprint("acme", LABELS)
    assert [r["receiver"] for r in disk["routes"]] == ["db"]
    assert [r["receiver"] for r in down["routes"]] == ["ops"]
    assert disk["labels"] == LABELS
    assert "dba@example.com" not in disk["summary"]
    details = json.loads(disk["details"])
    assert details["source"] == "external"
    assert details["starts_at"] == T0 - MIN
    assert details["ends_at"] == T0 + 5 * MIN
    assert details["generator_url"] == "http://prom:9090/graph?g0.expr=x"
    assert details["annotations"]["summary"] == "disk of db-1 full, mail [EMAIL_REDACTED]"


def test_the_tenant_label_is_not_part_of_the_identity_and_tenants_are() -> None:
    assert fingerprint("acme", LABELS) == fingerprint("acme", {**LABELS, "tenant": "acme"})
    assert fingerprint("acme", LABELS) != fingerprint("globex", LABELS)
    assert fingerprint("acme", {"a": "bc"}) != fingerprint("acme", {"ab": "c"})


def test_the_fingerprint_is_the_identity_already_stored() -> None:
    """Keys on events.alerts and rows in PostgreSQL carry it: the text it hashes never changes
    (pinned values, from before it was compiled)."""
    labels = {"alertname": "DiskFull", "instance": "db-1:9100", "tenant": "acme"}
    assert fingerprint("acme", labels) == "ce18ab3ddc28b20f470c0b30c97da8bc"
    assert fingerprint("globex", {"ünï": "ç", "a": ""}) == "43f417b5201777fcde34e9fb229cf632"


def test_redelivered_updates_change_nothing() -> None:
    h = Harness()
    h.send(T0)
    assert h.send(T0) == []
    assert h.suppressed == {"out_of_order": 1}


def test_the_sweep_finds_ends_of_states_this_process_did_not_write() -> None:
    h = Harness()
    h.send(T0)
    recovered = EndTimes()  # as after a restart: the state is there, the index is empty
    assert recovered.due(T0 + 6 * MIN, 10) == []
    recovered.sweep(h.store.keys, h.store.get, 10)
    assert recovered.due(T0 + 6 * MIN, 10) == [fingerprint("acme", LABELS)]
    assert row_end(h.store[fingerprint("acme", LABELS)][1]) == T0 + 5 * MIN


def test_split_keeps_the_order_of_each_kind() -> None:
    e1, e2 = ExternalAlertEvent("1", "a", LABELS, T0), ExternalAlertEvent("2", "a", LABELS, T0 + 1)
    ours, external = split([(0, "m1"), (1, e1), (0, "m2"), (1, e2)])  # type: ignore[list-item]
    assert ours == [(0, "m1"), (0, "m2")]
    assert external == [(1, e1), (1, e2)]
