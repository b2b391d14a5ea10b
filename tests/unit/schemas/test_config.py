"""Config loading: errors name the file, the path inside it and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertstream.runtime.topic_admin import plan
from alertstream.schemas.config import load_config, parse_config
from alertstream.schemas.errors import ConfigError
from alertstream.schemas.topics import CHANNELS, TopicNames


def test_example_config_is_valid() -> None:
    assert load_config().version >= 1


def test_unknown_key_and_bad_value_both_reported(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("topics:\n  partitions: 0\n  replicas: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    text = str(err.value)
    assert f"{f}: topics.partitions: Input should be greater than or equal to 1" in text
    assert f"{f}: topics.replicas: Extra inputs are not permitted" in text
    assert len(err.value.problems) == 2


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("topics:\n  partitions: [1\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert str(err.value).startswith(f"{f}: line 3, column 1: not valid YAML")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml")
    assert "cannot read: No such file or directory" in str(err.value)


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(["a"], "x.yaml")
    assert str(err.value) == "x.yaml: <root>: expected a mapping at the top level, got list"


def test_topic_plan_from_config() -> None:
    config = parse_config(
        {
            "topics": {"partitions": 3, "overrides": {"alerts": {"partitions": 12}}},
            "delivery": {"retry_delays_seconds": [1, 2]},
        },
        "x",
    )
    by_name = {p.name: p for p in plan(config, TopicNames("p."))}
    assert by_name["p.alerts"].partitions == 12
    assert by_name["p.events.metric"].partitions == 3
    limit = {"max.message.bytes": "1000000"}  # topics.max_message_bytes: one limit for codec, producers, topics
    assert by_name["p.alertstream.config"].config == {"cleanup.policy": "compact", **limit}
    assert by_name["p.events.metric"].config == limit
    expected_channel_topics = {f"p.alerts.{ch}.{s}" for ch in CHANNELS for s in ("retry.1", "retry.2", "dlq")}
    assert expected_channel_topics <= set(by_name)
    assert not any(".retry.3" in n for n in by_name)
    assert by_name["p.alertstream.ratelimits"].config == {"cleanup.policy": "compact", **limit}
    for compacted in ("p.alertstream.silences", "p.alertstream.actions", "p.alertstream.firing"):  # the lifecycle's
        assert by_name[compacted].config == {"cleanup.policy": "compact", **limit}
    assert len(by_name) == 11 + len(expected_channel_topics)  # incl. alerts.store.rejected
    assert "p.alerts.store.rejected" in by_name


def test_cross_section_problems_all_reported_with_paths(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(
        "rules:\n"
        "  - {id: cpu, metric: cpu_percent, warning: 70}\n"
        "  - {id: cpu, metric: memory_percent, warning: 70}\n"
        "routes:\n"
        "  receiver: hook\n"
        "  routes:\n"
        "    - {receiver: ghost}\n"
        "receivers:\n"
        "  - {name: hook, channel: webhook, url: 'https://example.com/h'}\n"
        "  - {name: hook, channel: webhook, url: 'https://example.com/i'}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert err.value.problems == [
        ("rules[1].id", "duplicate id 'cpu'"),
        ("receivers[1].name", "duplicate name 'hook'"),
        ("routes.routes[0].receiver", "unknown receiver 'ghost'"),
    ]
    assert f"{f}: routes.routes[0].receiver: unknown receiver 'ghost'" in str(err.value)


def test_route_matchers_on_severity_and_status_take_only_their_values(tmp_path: Path) -> None:
    """`severity: crit` used to be accepted and silently match nothing."""
    f = tmp_path / "c.yaml"
    f.write_text(
        "receivers: [{name: hook, channel: webhook, url: 'https://example.com/h'}]\n"
        "routes:\n"
        "  receiver: hook\n"
        "  routes:\n"
        "    - {match: {severity: critical}, receiver: hook}\n"
        "    - {match: {severity: crit}, receiver: hook}\n"
        "    - routes: [{match: {status: fired, env: prod}, receiver: hook}]\n"
        "      receiver: hook\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert err.value.problems == [
        ("routes.routes[1].match.severity", "'crit' is not a severity (critical, warning, info)"),
        ("routes.routes[2].routes[0].match.status", "'fired' is not a status (firing, resolved)"),
    ]
    assert f"{f}: routes.routes[1].match.severity: 'crit' is not a severity" in str(err.value)
