"""The state's representation (a NamedTuple) against the rows already in changelogs, and the
compiled rules' caches against the plain definitions they stand in for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alertstream.schemas.config import load_config, parse_config
from alertstream.streams import rules as rules_module
from alertstream.streams.dedup import EpisodeState, replace, step
from alertstream.streams.fingerprint import fingerprint
from alertstream.streams.routing import Router
from alertstream.streams.rules import RuleSet, breach, cleared
from tests.unit.streams.helpers import T0, drift, metric, rule

#: A changelog value exactly as the worker wrote it before the state became a tuple (JSON of
#: ``[partition, row]``, the frozen dataclass's ``to_row()``): it must keep meaning the same state.
DATACLASS_ROW = (
    '[3, ["firing", 1700000005000, 1700000009000, 86400000, "cpu-high", 2, 1700000001000, "critical",'
    ' 1700000001000, 1700000005000, 2, 1, 1700000002000, "warning", 95.5, 90.0, ["e1", "e2"], 1700000005000]]'
)


def test_a_row_written_by_the_dataclass_reads_back_field_by_field() -> None:
    partition, row = json.loads(DATACLASS_ROW)
    state = EpisodeState.from_row(row)
    assert partition == 3
    assert state == EpisodeState(
        phase="firing",
        watermark=1700000005000,
        touched=1700000009000,
        ttl_ms=86400000,
        rule_id="cpu-high",
        breach_count=2,
        breach_started=1700000001000,
        severity="critical",
        first_seen=1700000001000,
        last_seen=1700000005000,
        occurrence_count=2,
        suppressed_count=1,
        notified_at=1700000002000,
        notified_severity="warning",
        value=95.5,
        threshold=90.0,
        event_ids=("e1", "e2"),
        last_at=1700000005000,
    )
    assert isinstance(state.event_ids, tuple)
    # and is written back as the same row: a state survives any number of restarts unchanged
    assert json.dumps([partition, state.to_row()]) == DATACLASS_ROW


def test_rows_shorter_or_longer_than_this_layout() -> None:
    _, row = json.loads(DATACLASS_ROW)
    short = EpisodeState.from_row(row[:4])  # the four fields every row has
    assert short == EpisodeState("firing", 1700000005000, 1700000009000, 86400000, last_at=1700000005000)
    longer = EpisodeState.from_row([*row, "a field a newer version appended"])
    assert longer == EpisodeState.from_row(row)


def test_replace_changes_only_what_it_is_given_and_refuses_unknown_fields() -> None:
    state = EpisodeState("ok", 1, 2, 3, event_ids=("a",))
    moved = replace(state, watermark=10, touched=20)
    assert type(moved) is EpisodeState
    assert moved == state._replace(watermark=10, touched=20)
    assert state.watermark == 1  # the original is untouched (immutable)
    with pytest.raises(TypeError, match="watermrak"):
        replace(state, watermrak=5)


def test_step_states_round_trip_through_json_rows() -> None:
    rs = RuleSet([rule(for_count=2)])
    state = None
    for i, value in enumerate([80, 95, 96, 10]):
        state, _ = step(state, rs.metric(metric(value, T0 + i * 1000, event_id=f"e{i}"))[0], T0 + 10_000)
        assert state is not None
        assert EpisodeState.from_row(json.loads(json.dumps(state.to_row()))) == state


# -- the compiled rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"clear": 60},
        {"operator": "<", "warning": 0.7, "critical": 0.5, "clear": 0.75},
        {"operator": ">=", "warning": None, "critical": None, "info": 10},
        {"operator": "==", "warning": 3, "critical": None},
        {"operator": "<=", "warning": 5, "critical": 1},
    ],
)
def test_compiled_observation_matches_breach_and_cleared(kw: dict[str, Any]) -> None:
    r = rule(**kw)
    rs = RuleSet([r])
    for value in [-1, 0, 0.5, 0.7, 0.72, 0.76, 1, 3, 5, 10, 11, 60, 65, 69.9, 70, 71, 90, 95]:
        obs = rs.metric(metric(value))[0]
        assert (obs.severity, obs.threshold) == breach(r, value)
        assert obs.cleared is cleared(r, value)


def test_observations_carry_the_same_fields_as_before() -> None:
    rs = RuleSet([rule(group_by=["disk"])])
    obs = rs.metric(metric(95, source="h1", labels={"disk": "sda", "env": "prod"}, event_id="e1"))[0]
    assert obs.fingerprint == fingerprint("cpu", "acme", "h1{disk=sda}")
    assert (obs.entity, obs.at, obs.event_id, obs.value) == ("h1{disk=sda}", T0, "e1", 95)
    assert dict(obs.labels) == {"disk": "sda", "env": "prod"}
    assert dict(obs.details) == {"metric": "cpu_percent", "source": "h1"}
    d = rule(id="denial", metric=None, drift_type="DENIAL_RATE", operator=">=", warning=0.15)
    dobs = RuleSet([d]).drift(drift(0.1, 0.2))[0]
    assert list(dobs.details) == [
        "drift_type",
        "payer",
        "cpt_group",
        "baseline_value",
        "current_value",
        "sample_count",
        "delta",
    ]


def test_the_fingerprint_cache_is_bounded_and_never_changes_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules_module, "FINGERPRINT_CACHE", 8)
    rs = RuleSet([rule()])
    for round_ in range(3):
        for i in range(20):
            obs = rs.metric(metric(95, source=f"h{i}"))[0]
            assert obs.fingerprint == fingerprint("cpu", "acme", f"h{i}"), round_
    (watch,) = rs._by_metric["cpu_percent"]
    assert len(watch.fingerprints) <= 8


# -- the routing cache ------------------------------------------------------------------------


def test_cached_routes_equal_the_tree_walk_for_every_input() -> None:
    config = parse_config(
        {
            "routes": {
                "receiver": "a",
                "routes": [
                    {"match": {"env": "prod"}, "receiver": "b", "continue": True},
                    {"match": {"severity": "critical", "tenant": "acme"}, "receiver": "c"},
                    {"match": {"rule": "cpu"}, "receiver": "b"},
                ],
            },
            "receivers": [
                {"name": n, "channel": "webhook", "url": f"https://{n}.example.com/h"} for n in ("a", "b", "c")
            ],
        },
        "t",
    )
    receivers = {r.name: r.channel for r in config.receivers}
    cached = Router(config.routes, receivers)
    for tenant in ("acme", "beta"):
        for severity in ("critical", "warning"):
            for rule_id in ("cpu", "mem"):
                for labels in ({}, {"env": "prod"}, {"env": "dev"}, {"env": "prod", "x": "1"}):
                    for _ in range(2):  # the second ask is answered from the cache
                        got = cached.routes(tenant, severity, rule_id, "firing", labels)
                        fresh = Router(config.routes, receivers).routes(tenant, severity, rule_id, "firing", labels)
                        assert got == fresh, (tenant, severity, rule_id, labels)
    first = cached.routes("acme", "critical", "cpu", "firing", {})
    first.clear()  # a caller changing its list cannot change the next answer
    assert cached.routes("acme", "critical", "cpu", "firing", {}) != []


def test_example_config_routes_are_unchanged() -> None:
    config = load_config(None)
    router = Router(config.routes, {r.name: r.channel for r in config.receivers})
    names = [r.receiver for r in router.routes("acme", "critical", "cpu-high", "firing", {"env": "demo"})]
    assert names == ["ops-webhook", "ops-pagerduty", "ops-email", "ops-slack"]
    assert [r.receiver for r in router.routes("acme", "warning", "cpu-high", "firing", {})] == [
        "ops-webhook",
        "ops-slack",
    ]
