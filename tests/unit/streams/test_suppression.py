"""Inhibition, silences and route mutes decided over label sets (streams/suppression.py)."""

from __future__ import annotations

from alertstream.schemas.lifecycle_config import InhibitRule
from alertstream.schemas.matchers import parse_matchers
from alertstream.schemas.silences import new_silence
from alertstream.schemas.time_intervals import NamedTimeInterval
from alertstream.streams.suppression import CompiledInhibit, Hold, InhibitionView, RouteMute, decide

NOW = 1_773_050_400_000  # 2026-03-09T10:00:00Z, a Monday


def rule(**kw: object) -> CompiledInhibit:
    base: dict[str, object] = {
        "name": "db-hides-latency",
        "source_matchers": ['alertname="db-pool-saturated"', 'severity="critical"'],
        "target_matchers": ['alertname="api-latency-high"', 'severity="warning"'],
        "equal": ["tenant"],
    }
    return CompiledInhibit.of(InhibitRule.model_validate({**base, **kw}))


SOURCE = {"alertname": "db-pool-saturated", "severity": "critical", "tenant": "acme"}
TARGET = {"alertname": "api-latency-high", "severity": "warning", "tenant": "acme"}


def test_a_firing_source_inhibits_targets_with_equal_labels_only() -> None:
    view = InhibitionView([rule()])
    assert view.inhibiting("t1", TARGET) is None
    view.put("s1", SOURCE)
    assert view.inhibiting("t1", TARGET) == "db-hides-latency"
    assert view.inhibiting("t2", {**TARGET, "tenant": "zeta"}) is None  # equal: tenant differs
    assert view.inhibiting("t3", {**TARGET, "severity": "critical"}) is None  # not a target
    assert view.inhibiting("s1", SOURCE) is None  # the source is not inhibited
    view.drop("s1")
    assert view.inhibiting("t1", TARGET) is None  # the source resolved


def test_a_missing_equal_label_on_both_sides_is_equal() -> None:
    view = InhibitionView([rule(equal=["cluster"])])
    view.put("s1", SOURCE)
    assert view.inhibiting("t1", TARGET) == "db-hides-latency"
    assert view.inhibiting("t2", {**TARGET, "cluster": "eu"}) is None


def test_an_alert_never_inhibits_itself_nor_do_two_sided_matches_mute_each_other() -> None:
    both = rule(source_matchers=['team="db"'], target_matchers=['team="db"'], equal=[])
    view = InhibitionView([both])
    view.put("a", {"team": "db"})
    assert view.inhibiting("a", {"team": "db"}) is None
    view.put("b", {"team": "db"})
    assert view.inhibiting("a", {"team": "db"}) is None


def test_rules_changed_reindex_the_known_sources() -> None:
    view = InhibitionView([])
    view.put("s1", SOURCE)
    assert view.inhibiting("t1", TARGET) is None
    view.set_rules([rule()])
    assert view.inhibiting("t1", TARGET) == "db-hides-latency"


def test_decide_orders_inhibition_before_silences_before_mutes() -> None:
    view = InhibitionView([rule()])
    silence = new_silence(parse_matchers('alertname="api-latency-high"'), NOW, NOW + 60_000, "ops", "", NOW)
    night = NamedTimeInterval.model_validate({"name": "always", "time_intervals": [{"weekdays": ["sunday:saturday"]}]})
    routes = [RouteMute("hook", "webhook", mute=("always",))]
    intervals = {"always": night}
    assert decide("t1", TARGET, view, [], routes, intervals, NOW) == (Hold("muted", "always"), {"hook": "mute:always"})
    assert decide("t1", TARGET, view, [silence], routes, intervals, NOW)[0] == Hold("silenced", silence.id)
    view.put("s1", SOURCE)
    assert decide("t1", TARGET, view, [silence], routes, intervals, NOW)[0] == Hold("inhibited", "db-hides-latency")


def test_only_the_muted_routes_are_dropped_when_others_remain() -> None:
    intervals = {
        "always": NamedTimeInterval.model_validate({"name": "always", "time_intervals": [{"years": ["2000:2100"]}]})
    }
    routes = [RouteMute("pager", "pagerduty", mute=("always",)), RouteMute("hook", "webhook")]
    assert decide("t1", TARGET, InhibitionView(), [], routes, intervals, NOW) == (None, {"pager": "mute:always"})
