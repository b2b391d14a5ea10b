from __future__ import annotations

import json

import pytest

from alertstream.consumers.model import delivery_id, tasks_for
from alertstream.consumers.render import PAGERDUTY_MAX_BYTES, pagerduty_body, slack_body, webhook_body
from tests.unit.consumers.helpers import alert


def test_tasks_one_per_distinct_receiver_of_the_channel_with_stable_ids() -> None:
    tasks = tasks_for(alert(), "webhook")
    assert [t["receiver"] for t in tasks] == ["ops", "dev"]
    assert tasks[0]["delivery_id"] == delivery_id("a-1", "webhook", "ops")
    assert tasks_for(alert(), "webhook")[0]["delivery_id"] == tasks[0]["delivery_id"]
    assert delivery_id("a-1", "slack", "ops") != tasks[0]["delivery_id"]
    assert tasks_for(alert(), "pagerduty") == []
    assert all(t["attempt"] == 0 for t in tasks)


def test_webhook_body_is_the_alert_with_details_as_object() -> None:
    body = json.loads(webhook_body(alert(), "msg_x"))
    assert body["details"] == {"value": 97.5, "threshold": 90}
    assert body["delivery_id"] == "msg_x"
    assert body["fingerprint"] == "fp-1"
    assert body["summary"] == "CPU <above> 90% & rising"


def test_slack_has_text_and_blocks_escaped() -> None:
    body = json.loads(slack_body(alert(), link_template="https://grafana.example/d?fp=$fingerprint"))
    assert "CPU &lt;above&gt; 90% &amp; rising" in body["text"]
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "section", "section", "actions", "context"]
    assert body["blocks"][0]["text"]["text"] == "[CRITICAL] FIRING: cpu-high"
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert fields[0] == "*Severity*\ncritical"
    assert body["blocks"][4]["elements"][0]["url"] == "https://grafana.example/d?fp=fp-1"


def test_slack_link_must_be_http() -> None:
    body = json.loads(slack_body(alert(), link_template="javascript:alert($fingerprint)"))
    assert "actions" not in [b["type"] for b in body["blocks"]]


@pytest.mark.parametrize(("severity", "pd"), [("critical", "critical"), ("warning", "warning"), ("info", "info")])
def test_pagerduty_trigger(severity: str, pd: str) -> None:
    body = json.loads(pagerduty_body(alert(severity=severity), "rk", "msg_1"))
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "fp-1"
    assert body["routing_key"] == "rk"
    assert body["payload"]["severity"] == pd
    assert body["payload"]["source"] == "host-1"
    assert body["payload"]["custom_details"]["delivery_id"] == "msg_1"
    assert body["payload"]["timestamp"] == "2023-11-14T22:14:20Z"


def test_pagerduty_resolve_is_minimal() -> None:
    body = json.loads(pagerduty_body(alert(status="resolved"), "rk", "msg_1"))
    assert body == {"routing_key": "rk", "event_action": "resolve", "dedup_key": "fp-1"}


def test_pagerduty_event_stays_under_512kb() -> None:
    huge = json.dumps({f"k{i}": "x" * 60_000 for i in range(10)})
    body = pagerduty_body(alert(details=huge), "rk", "msg_1")
    assert len(body) <= PAGERDUTY_MAX_BYTES
    assert json.loads(body)["payload"]["custom_details"]["truncated"]


def test_pagerduty_acknowledge_on_the_same_dedup_key_without_a_payload() -> None:
    body = json.loads(pagerduty_body(alert(event="acknowledged"), "rk", "msg_1"))
    assert body == {"routing_key": "rk", "event_action": "acknowledge", "dedup_key": alert()["fingerprint"]}


def test_webhooks_carry_the_lifecycle_event() -> None:
    assert json.loads(webhook_body(alert(event="acknowledged"), "msg_1"))["event"] == "acknowledged"
