"""The explanation of an alert and the SQL of a listing, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alertstream.api.explain import explain
from alertstream.api.history import AlertFilter, DeliveryFilter, alerts_query, deliveries_query
from alertstream.api.models import Alert, PreviousAlert, Route
from alertstream.api.pagination import Cursor

T = datetime(2026, 11, 1, tzinfo=UTC)


def _alert(**over: Any) -> Alert:
    values: dict[str, Any] = {
        "alert_id": "al-1",
        "tenant": "acme",
        "rule_id": "cpu",
        "rule_version": 4,
        "status": "firing",
        "severity": "critical",
        "fingerprint": "fp",
        "entity": "db-7",
        "summary": "cpu",
        "reason": "escalated",
        "details": {
            "rule": "cpu",
            "description": "CPU",
            "operator": ">",
            "reason": "escalated",
            "metric": "cpu_percent",
        },
        "labels": {},
        "value": 95.0,
        "threshold": 90.0,
        "occurrence_count": 5,
        "suppressed_count": 3,
        "first_seen": T,
        "last_seen": T,
        "emitted_at": T,
        "event_ids": ["e1", "e2"],
        "routes": [Route(receiver="ops", channel="webhook")],
        "rate_limited": False,
    }
    values.update(over)
    return Alert(**values)


def test_explain_lists_each_decision_from_the_record() -> None:
    e = explain(_alert(), None, [])
    assert e.rule.model_dump() == {"id": "cpu", "version": 4, "description": "CPU", "operator": ">"}
    assert e.observed == {"metric": "cpu_percent"}
    assert [(d.stage, d.outcome) for d in e.decisions] == [
        ("dedup", "escalated"),
        ("grouping", "folded"),
        ("rate_limit", "not_applied"),
        ("routing", "routed"),
    ]
    assert e.suppressions.model_dump() == {"count": 3, "by_reason": None}


def test_explain_shows_the_per_reason_breakdown_once_the_record_carries_it() -> None:
    e = explain(_alert(), {"dedup": 2, "rate_limit": 1}, [])
    assert e.suppressions.by_reason == {"dedup": 2, "rate_limit": 1}
    assert "(dedup: 2, rate_limit: 1)" in e.decisions[1].detail


def test_explain_of_a_rate_limited_unrouted_first_alert() -> None:
    previous = [
        PreviousAlert(
            alert_id="al-0",
            status="resolved",
            severity="warning",
            reason="cleared",
            occurrence_count=1,
            suppressed_count=0,
            rate_limited=False,
            last_seen=T,
            emitted_at=None,
        )
    ]
    e = explain(_alert(reason="new", suppressed_count=0, rate_limited=True, routes=[]), None, previous)
    assert [(d.stage, d.outcome) for d in e.decisions] == [
        ("dedup", "new"),
        ("grouping", "none"),
        ("rate_limit", "applied"),
        ("routing", "no_route"),
    ]
    assert [p.alert_id for p in e.previous] == ["al-0"]


def test_a_tenant_scope_always_limits_the_query_whatever_the_filter() -> None:
    sql, params = alerts_query(AlertFilter(tenant="other"), "acme", None, 50)
    assert "tenant = %s" in sql
    assert params == ["acme", 51]
    sql, params = alerts_query(AlertFilter(), None, None, 10)
    assert "WHERE" not in sql
    assert params == [11]


def test_filters_become_indexable_predicates_and_the_cursor_a_row_comparison() -> None:
    cursor = Cursor("alerts", T, "al-9")
    sql, params = alerts_query(
        AlertFilter(severity=("critical",), status=("firing", "resolved"), receiver="ops", text="disk full"),
        "acme",
        cursor,
        50,
    )
    assert "severity = %s" in sql, "one value: `=`, which reads the index in order"
    assert "status = ANY(%s)" in sql
    assert "routes @> %s::jsonb" in sql
    assert "(last_seen, alert_id) < (%s, %s)" in sql
    assert sql.endswith("ORDER BY last_seen DESC, alert_id DESC LIMIT %s")
    assert params == ["acme", "critical", ["firing", "resolved"], '[{"receiver": "ops"}]', "disk full", T, "al-9", 51]
    dsql, dparams = deliveries_query(
        DeliveryFilter(tenant="x", channel="slack"), "acme", Cursor("deliveries", T, "42"), 5
    )
    assert "(at, id) < (%s, %s)" in dsql
    assert dparams == ["acme", "slack", T, 42, 6]


@pytest.mark.parametrize(
    ("reason", "facts", "outcome", "words"),
    [
        ("silenced", {"suppression": {"reason": "silenced", "silence_id": "s-1"}}, "silenced", "silence s-1"),
        (
            "inhibited",
            {"suppression": {"reason": "inhibited", "inhibit_rule": "db-pool-hides-latency"}},
            "inhibited",
            "inhibition rule db-pool-hides-latency",
        ),
        ("muted", {"suppression": {"reason": "muted", "time_interval": "offhours"}}, "muted", "time interval offhours"),
        ("released", {"released_from": {"reason": "silenced", "ref": "s-1"}}, "released", "silenced (s-1) ended"),
        (
            "escalation",
            {"escalation": {"policy": "db", "step": 1, "round": 0, "receiver": "lead", "schedule": None}},
            "escalation",
            "step 2 of escalation policy db (round 1) paged lead",
        ),
        (
            "acknowledged",
            {"action": {"kind": "acknowledge", "by": "api-key:k1", "at": 0, "action_id": "a", "comment": "on it"}},
            "acknowledged",
            "acknowledged by api-key:k1: on it",
        ),
        (
            "resolved_by_user",
            {"action": {"kind": "resolve", "by": "cli:ops", "at": 0, "action_id": "a", "comment": ""}},
            "resolved_by_user",
            "resolved by cli:ops",
        ),
        (
            "missing_data",
            {"missing_data": {"policy": "resolve_after", "after_seconds": 300.0}},
            "missing_data",
            "no events for 300s (missing_data: resolve_after)",
        ),
        ("heartbeat_missing", {}, "heartbeat_missing", "has not reported"),
    ],
)
def test_explain_names_the_lifecycle_decision_and_keeps_its_facts_out_of_the_observations(
    reason: str, facts: dict[str, Any], outcome: str, words: str
) -> None:
    details = {"rule": "cpu", "reason": reason, "metric": "cpu_percent", **facts}
    e = explain(_alert(reason=reason, details=details, suppressed_count=0), None, [])
    stages = {d.stage: d for d in e.decisions}
    assert stages["lifecycle"].outcome == outcome
    assert words in stages["lifecycle"].detail
    assert stages["dedup"].outcome == "lifecycle"  # not "no decision recorded"
    assert e.observed == {"metric": "cpu_percent"}


def test_an_evaluator_decision_has_no_lifecycle_stage() -> None:
    assert "lifecycle" not in {d.stage for d in explain(_alert(), None, []).decisions}
