"""`topics create` on the real broker: the configs the broker reports are the planned ones."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from alertstream.local_stack import StackInfo
from alertstream.runtime.kafka_clients import admin_config
from alertstream.runtime.topic_admin import create_topics, plan
from alertstream.schemas.config import parse_config
from alertstream.schemas.topics import CHANNELS, TopicNames

pytestmark = pytest.mark.integration
DAY_MS = 86_400_000


def test_dlq_and_retry_topics_are_created_with_their_retention(stack: StackInfo, topic_prefix: str) -> None:
    config = parse_config({"topics": {"overrides": {"alerts.pagerduty.dlq": {"retention_ms": 30 * DAY_MS}}}}, "t")
    topics = TopicNames(topic_prefix)
    create_topics(stack.bootstrap, config, topics)
    admin = AdminClient(admin_config(stack.bootstrap))
    names = [topics.dlq(ch) for ch in CHANNELS] + [topics.retry(ch, n) for ch in CHANNELS for n in range(1, 5)]
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name) for name in names])
    described = {res.name: {k: v.value for k, v in f.result(10).items()} for res, f in futures.items()}
    retention = {name: described[name].get("retention.ms") for name in names}
    expected = {topics.dlq(ch): str(14 * DAY_MS) for ch in CHANNELS}
    expected[topics.dlq("pagerduty")] = str(30 * DAY_MS)
    expected.update({topics.retry(ch, n): str(7 * DAY_MS) for ch in CHANNELS for n in range(1, 5)})
    assert retention == expected
    # and everything planned is what the broker holds, for every one of them
    planned = {p.name: p.config for p in plan(config, topics)}
    for name in names:
        assert {k: described[name].get(k) for k in planned[name]} == planned[name]
