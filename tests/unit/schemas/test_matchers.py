"""Label matchers mean what they mean in Alertmanager (silences, inhibition, routes, amtool)."""

from __future__ import annotations

import pytest

from alertstream.schemas.matchers import (
    Matcher,
    MatcherError,
    alert_labels,
    matches_all,
    parse_matcher,
    parse_matchers,
)

LABELS = {"alertname": "cpu-high", "severity": "warning", "team": "db", "instance": "myweb1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity="warning"', True),
        ("severity=warning", True),
        ('severity!="critical"', True),
        ('severity="critical"', False),
        ('instance=~"web.*"', False),  # anchored at both ends
        ('instance=~".*web.*"', True),
        ('instance!~"web.*"', True),
        ('absent=""', True),  # a missing label is the empty string
        ('absent!="x"', True),
        ('absent=~".+"', False),
        ('team=~"db|api"', True),
    ],
)
def test_operators_with_alertmanager_semantics(text: str, expected: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is expected


def test_a_regex_is_anchored_at_the_very_end_as_in_go() -> None:
    """Python's ``$`` also matches before a final newline; Go's (Alertmanager's) does not."""
    assert not parse_matcher('instance=~"myweb1"').matches({"instance": "myweb1\n"})
    assert parse_matcher('instance!~"myweb1"').matches({"instance": "myweb1\n"})
    with pytest.raises(MatcherError):
        Matcher("team\n", "=", "db")


def test_list_syntax_with_braces_commas_and_quotes() -> None:
    ms = parse_matchers('{alertname="cpu-high", team=~"db|api", note="a, b"}')
    assert [str(m) for m in ms] == ['alertname="cpu-high"', 'team=~"db|api"', 'note="a, b"']
    assert not matches_all(ms, LABELS)  # note is missing
    assert matches_all(ms, {**LABELS, "note": "a, b"})
    assert matches_all([], LABELS)


def test_value_may_contain_operators_and_escapes() -> None:
    m = parse_matcher(r'query="a=b \"quoted\""')
    assert (m.name, m.op, m.value) == ("query", "=", 'a=b "quoted"')
    assert str(m) == r'query="a=b \"quoted\""'


def test_api_v2_shape_round_trips() -> None:
    for op in ("=", "!=", "=~", "!~"):
        m = Matcher("team", op, "db")  # type: ignore[arg-type]
        assert Matcher.from_api(m.to_api()) == m
    assert Matcher("a", "!~", "x").to_api() == {"name": "a", "value": "x", "isRegex": True, "isEqual": False}
    assert Matcher.from_api({"name": "a", "value": "x", "isRegex": False}).op == "="  # isEqual defaults true


@pytest.mark.parametrize("bad", ["novalue", '="x"', 'a=~"("', '1abc="x"', 'a="unterminated'])
def test_bad_matchers_are_errors(bad: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(bad)


def test_alert_label_set_has_the_reserved_names_over_event_labels() -> None:
    alert = {
        "rule_id": "cpu-high",
        "tenant": "acme",
        "severity": "critical",
        "entity": "h1",
        "labels": {"env": "prod", "tenant": "spoofed"},
    }
    assert alert_labels(alert) == {
        "env": "prod",
        "alertname": "cpu-high",
        "rule": "cpu-high",
        "tenant": "acme",
        "severity": "critical",
        "entity": "h1",
    }
