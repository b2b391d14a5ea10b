from __future__ import annotations

import pytest

from alertstream.schemas.config import parse_config
from alertstream.schemas.errors import ConfigError
from alertstream.streams.rules import RuleSet, breach, cleared, compare
from tests.unit.streams.helpers import drift, metric, rule


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (">", 90.0, False),
        (">", 90.1, True),
        (">=", 90.0, True),
        (">=", 89.9, False),
        ("<", 50.0, False),
        ("<", 49.9, True),
        ("<=", 50.0, True),
        ("<=", 50.1, False),
        ("==", 3.0, True),
        ("==", 3.1, False),
    ],
)
def test_compare_each_operator(op: str, value: float, expected: bool) -> None:
    threshold = 90.0 if op in (">", ">=") else 50.0 if op in ("<", "<=") else 3.0
    assert compare(op, value, threshold) is expected  # type: ignore[arg-type]


def test_breach_picks_most_severe_level_and_its_threshold() -> None:
    r = rule()
    assert breach(r, 95) == ("critical", 90)
    assert breach(r, 80) == ("warning", 70)
    assert breach(r, 70) == (None, 70)


def test_less_than_rule_for_cache_hit_rate() -> None:
    r = rule(metric="cache_hit_rate", operator="<", warning=0.7, critical=0.5, clear=0.75)
    assert breach(r, 0.4) == ("critical", 0.5)
    assert breach(r, 0.6) == ("warning", 0.7)
    assert breach(r, 0.72) == (None, 0.7)
    assert not cleared(r, 0.72)  # inside the hysteresis band
    assert cleared(r, 0.76)


def test_clear_defaults_to_mildest_threshold() -> None:
    r = rule()
    assert not cleared(r, 71)
    assert cleared(r, 70)


def test_hysteresis_band_between_clear_and_threshold() -> None:
    r = rule(clear=60)
    assert breach(r, 65)[0] is None
    assert not cleared(r, 65)
    assert cleared(r, 60)


def test_info_level_only_rule() -> None:
    r = rule(warning=None, critical=None, info=10)
    assert breach(r, 11) == ("info", 10)


def test_metric_rule_scoping_by_tenant_metric_and_labels() -> None:
    rules = RuleSet(
        [
            rule(id="all"),
            rule(id="only-beta", tenant="beta"),
            rule(id="prod-only", labels={"env": "prod"}),
            rule(id="mem", metric="memory_percent"),
        ]
    )
    ids = {o.rule.id for o in rules.metric(metric(95, tenant="acme"))}
    assert ids == {"all"}
    ids = {o.rule.id for o in rules.metric(metric(95, tenant="beta", labels={"env": "prod"}))}
    assert ids == {"all", "only-beta", "prod-only"}


def test_drift_relative_and_absolute_delta() -> None:
    rel = rule(id="denial", metric=None, drift_type="DENIAL_RATE", delta="relative", operator=">=", warning=0.15)
    obs = RuleSet([rel]).drift(drift(0.10, 0.12))
    assert len(obs) == 1
    assert obs[0].value == pytest.approx(0.2)
    assert obs[0].severity == "warning"
    ab = rule(
        id="delay", metric=None, drift_type="PAYMENT_DELAY", delta="absolute", operator=">=", warning=7, critical=14
    )
    obs = RuleSet([ab]).drift(drift(18, 33, drift_type="PAYMENT_DELAY"))
    assert obs[0].value == 15
    assert obs[0].severity == "critical"
    assert obs[0].entity == "Aetna/E&M"


def test_drift_severity_bands() -> None:
    r = rule(id="d", metric=None, drift_type="DENIAL_RATE", operator=">=", info=0.05, warning=0.15, critical=0.5)
    rs = RuleSet([r])
    assert [rs.drift(drift(0.1, v))[0].severity for v in (0.104, 0.106, 0.12, 0.16)] == [
        None,
        "info",
        "warning",
        "critical",
    ]


def test_drift_min_sample_count_and_zero_baseline_are_ignored() -> None:
    r = rule(id="d", metric=None, drift_type="DENIAL_RATE", operator=">=", warning=0.15, min_sample_count=20)
    rs = RuleSet([r])
    assert rs.drift(drift(0.1, 0.5, sample_count=19)) == []
    assert len(rs.drift(drift(0.1, 0.5, sample_count=20))) == 1
    assert rs.drift(drift(0.0, 0.5)) == []  # relative delta undefined


def _problems(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "rules.yaml")
    return str(err.value)


def test_config_errors_name_file_path_and_problem() -> None:
    text = _problems(
        {
            "rules": [
                {"id": "ok", "metric": "m", "warning": 1},
                {"id": "x", "metric": "m", "warning": 90, "critical": 70},
            ]
        }
    )
    assert "rules.yaml: rules[1]: " in text
    assert "critical >= warning >= info" in text
    assert "rules[0]" not in text


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"id": "x", "metric": "m"}, "at least one of critical, warning, info"),
        ({"id": "x", "metric": "m", "warning": 70, "clear": 80}, "clear must be at or below"),
        ({"id": "x", "metric": "m", "operator": "<", "warning": 70, "clear": 60}, "clear must be at or above"),
        ({"id": "x", "metric": "m", "operator": "!=", "warning": 1}, "rules[0].operator"),
        ({"id": "x", "warning": 1}, "needs metric"),
        ({"id": "x", "drift_type": "D", "warning": 1, "metric": "m"}, "metric not used by a drift rule"),
        ({"id": "x", "metric": "m", "warning": 1, "min_sample_count": 3}, "min_sample_count not used by a metric rule"),
        ({"id": "x", "metric": "m", "warning": 1, "repeat_interval_seconds": 100000}, "repeat_interval_seconds"),
        ({"id": "x", "metric": "m", "warning": 1, "typo": 1}, "rules[0].typo"),
    ],
)
def test_invalid_rules_are_refused(bad: dict[str, object], problem: str) -> None:
    assert problem in _problems({"rules": [bad]})


def test_example_config_ships_seed_thresholds() -> None:
    from alertstream.schemas.config import load_config

    rules = {r.id: r for r in load_config(None).rules}
    assert (rules["cpu-high"].warning, rules["cpu-high"].critical) == (70, 90)
    assert (rules["memory-high"].warning, rules["memory-high"].critical) == (75, 90)
    assert (rules["api-latency-high"].warning, rules["api-latency-high"].critical) == (2.0, 5.0)
    assert rules["cache-hit-rate-low"].operator == "<"
    assert (rules["db-pool-saturated"].warning, rules["db-pool-saturated"].critical) == (0.80, 0.95)
    assert (rules["model-latency-high"].warning, rules["model-latency-high"].critical) == (10, 30)
    assert {r.drift_type for r in rules.values() if r.kind == "drift"} == {
        "DENIAL_RATE",
        "UNDERPAYMENT",
        "PAYMENT_DELAY",
    }
