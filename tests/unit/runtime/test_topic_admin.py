"""Topic plans: retention of the DLQ and retry-tier topics is explicit, overridable, and long enough."""

from __future__ import annotations

from typing import Any

import pytest

from alertstream.runtime.topic_admin import plan
from alertstream.schemas.config import parse_config
from alertstream.schemas.errors import ConfigError
from alertstream.schemas.topics import CHANNELS, TopicNames

DAY_MS = 86_400_000


def _plans(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {p.name: p.config for p in plan(parse_config(data, "x.yaml"), TopicNames())}


def test_dlq_and_retry_tiers_get_an_explicit_retention_by_default() -> None:
    configs = _plans({})
    for channel in CHANNELS:
        assert configs[f"alerts.{channel}.dlq"]["retention.ms"] == str(14 * DAY_MS)
        for tier in range(1, 5):
            assert configs[f"alerts.{channel}.retry.{tier}"]["retention.ms"] == str(7 * DAY_MS)
    assert "retention.ms" not in configs["alerts"], "other topics keep the broker's default"
    assert "retention.ms" not in configs["events.metric"]


def test_retention_defaults_and_per_topic_overrides() -> None:
    configs = _plans(
        {
            "topics": {
                "dlq_retention_ms": 30 * DAY_MS,
                "retry_retention_ms": 3 * DAY_MS,
                "overrides": {
                    "alerts.email.dlq": {"retention_ms": -1},
                    "alerts.slack.retry.2": {"retention_ms": 2 * DAY_MS},
                },
            }
        }
    )
    assert configs["alerts.webhook.dlq"]["retention.ms"] == str(30 * DAY_MS)
    assert configs["alerts.email.dlq"]["retention.ms"] == "-1"
    assert configs["alerts.webhook.retry.2"]["retention.ms"] == str(3 * DAY_MS)
    assert configs["alerts.slack.retry.2"]["retention.ms"] == str(2 * DAY_MS)


def test_a_retry_retention_shorter_than_a_task_can_wait_is_a_config_error() -> None:
    # the longest wait on a tier: 7200 s x (1 + 0.2 jitter) = 8640 s; twice that (head of line) = 17280 s
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "topics": {
                    "retry_retention_ms": 17_280_000,
                    "overrides": {"alerts.email.retry.1": {"retention_ms": 1}},
                },
                "delivery": {"retry_delays_seconds": [10, 7200], "jitter": 0.2, "max_retry_after_seconds": 600},
            },
            "x.yaml",
        )
    assert err.value.problems == [
        (
            "topics.retry_retention_ms",
            "17280000 ms is not longer than twice the longest wait on a retry tier (17280000 ms)",
        ),
        (
            "topics.overrides.alerts.email.retry.1.retention_ms",
            "1 ms is not longer than twice the longest wait on a retry tier (17280000 ms)",
        ),
    ]
    assert parse_config(
        {"topics": {"retry_retention_ms": 17_280_001}, "delivery": {"retry_delays_seconds": [7200]}}, "x"
    )
