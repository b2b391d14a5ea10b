"""A recent history for the console's tests and screenshots, written through the store's own row
builders and writer (exactly the rows `alertstream store` writes): a day of alerts of two tenants
with deliveries, folded occurrences by reason, one alert with a full story (retried then
delivered, dead-lettered with its DLQ record, resolved later) and a receiver whose latest
attempts all failed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg

from alertstream.consumers.store_records import Source, StoreItem, StoreTopics, to_item
from alertstream.consumers.store_writer import write_batch
from alertstream.consumers.task_messages import dlq_headers
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, DELIVERY_TASK
from tests.integration.api.history_data import CODEC, TOPICS, alert_record, outcome_record, task_record

MINUTE = 60_000
RULES = ("cpu-high", "memory-high", "api-latency-high", "denial-rate-drift", "payment-delay")
SEVERITIES = ("critical", "warning", "warning", "info")


@dataclass
class Recent:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    dlq: list[tuple[dict[str, Any], str, int]] = field(default_factory=list)  # (alert, channel, at)
    story: dict[str, Any] = field(default_factory=dict)
    story_resolved: dict[str, Any] = field(default_factory=dict)

    def of(self, tenant: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["tenant"] == tenant]


def _alert(n: int, tenant: str, at: int, **over: Any) -> dict[str, Any]:
    rule = RULES[n % len(RULES)]
    entity = f"{rule.split('-')[0]}-{n % 4 + 1}"
    sev = SEVERITIES[n % len(SEVERITIES)]
    folded = {"dedup": n % 4, "grouped": n % 3} if n % 2 == 0 else None
    details = {"rule": rule, "operator": ">", "reason": "new" if n % 3 else "repeat", "metric": rule.split("-")[0]}
    if folded is not None:
        details["suppressed_by_reason"] = folded
    record = alert_record(
        n,
        alert_id=f"cs-{tenant}-{n:03d}",
        tenant=tenant,
        rule_id=rule,
        severity=sev,
        status="resolved" if n % 6 == 5 else "firing",
        fingerprint=f"fp-{tenant}-{rule}-{entity}",
        entity=entity,
        summary=f"{rule} on {entity}: {n % 40 + 60}",
        details=json.dumps(details),
        labels={"env": "prod", "team": "payments" if "payment" in rule or "denial" in rule else "platform"},
        value=float(n % 40 + 60),
        threshold=70.0,
        occurrence_count=1 + n % 5,
        suppressed_count=sum(folded.values()) if folded else n % 2,
        first_seen=at - 5 * MINUTE,
        last_seen=at,
        emitted_at=at + 150,
        routes=[{"receiver": "ops-webhook", "channel": "webhook"}]
        + ([{"receiver": "ops-slack", "channel": "slack"}] if sev != "info" else []),
        rate_limited=n % 29 == 0,
    )
    record.update(over)
    return record


def build_recent(now_ms: int) -> Recent:
    h = Recent()
    for tenant, count in (("acme", 72), ("globex", 24)):
        for n in range(count):
            at = now_ms - (count - n) * (24 * 60 * MINUTE // count) + 30_000
            a = _alert(n, tenant, at)
            h.alerts.append(a)
            for route in a["routes"]:
                channel = route["channel"]
                latency = 0.04 + (n % 7) * 0.03 + (0.25 if channel == "slack" else 0)
                if n % 9 == 4:
                    h.outcomes.append(outcome_record(a, channel, "retrying", 1, at + 900, latency_seconds=latency * 3))
                    h.outcomes.append(outcome_record(a, channel, "sent", 2, at + 12_000, latency_seconds=latency))
                else:
                    h.outcomes.append(outcome_record(a, channel, "sent", 1, at + 400 + n * 3, latency_seconds=latency))
    # a receiver that has failed its latest attempts (a probably open breaker)
    for n in range(6):
        a = _alert(200 + n, "acme", now_ms - (6 - n) * 45_000, severity="critical")
        a["routes"] = [{"receiver": "ops-pagerduty", "channel": "pagerduty"}]
        h.alerts.append(a)
        h.outcomes.append(
            outcome_record(a, "pagerduty", "retrying", 1, a["last_seen"] + 500, status_code=503, reason="http_5xx")
        )
    t = now_ms - 95 * MINUTE
    h.story = _alert(
        300,
        "acme",
        t,
        alert_id="cs-acme-story",
        rule_id="cpu-high",
        entity="db-7",
        fingerprint="fp-acme-story",
        severity="critical",
        status="firing",
        summary="CPU above 90% on db-7 for 10 minutes",
        value=97.5,
        threshold=90.0,
        occurrence_count=12,
        suppressed_count=9,
        event_ids=["ev-7f2c", "ev-7f2d", "ev-7f31"],
        first_seen=t - 10 * MINUTE,
        details=json.dumps(
            {
                "rule": "cpu-high",
                "description": "CPU saturation",
                "operator": ">",
                "reason": "escalated",
                "metric": "cpu_percent",
                "suppressed_by_reason": {"dedup": 6, "grouped": 3},
            }
        ),
        labels={"env": "prod", "team": "platform", "region": "eu-west-1"},
    )
    s = h.story
    h.alerts.append(s)
    h.outcomes += [
        outcome_record(s, "webhook", "retrying", 1, t + 1_000, latency_seconds=0.31),
        outcome_record(s, "webhook", "sent", 2, t + 11_400, latency_seconds=0.048),
        outcome_record(
            s, "slack", "dead_lettered", 1, t + 1_300, status_code=400, reason="http_4xx", latency_seconds=0.2
        ),
    ]
    h.dlq.append((s, "slack", t + 1_300))
    h.story_resolved = _alert(
        301,
        "acme",
        t + 25 * MINUTE,
        alert_id="cs-acme-story-resolved",
        rule_id="cpu-high",
        entity="db-7",
        fingerprint="fp-acme-story",
        severity="critical",
        status="resolved",
        summary="CPU back under 65% on db-7",
        details=json.dumps({"rule": "cpu-high", "operator": ">", "reason": "cleared"}),
    )
    h.alerts.append(h.story_resolved)
    return h


def write_recent(dsn: str, now_ms: int) -> Recent:
    h = build_recent(now_ms)
    topics = StoreTopics.of(TOPICS)
    messages: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []
    messages += [(TOPICS.alerts, CODEC.encode(ALERT, a), []) for a in h.alerts]
    messages += [(TOPICS.deliveries, CODEC.encode(DELIVERY_OUTCOME, o), []) for o in h.outcomes]
    for a, channel, at in h.dlq:
        headers = [
            (k, v if isinstance(v, bytes) else str(v).encode())
            for k, v in dlq_headers(1, "http_4xx", "400 Bad Request: invalid_blocks", a["severity"], at)
        ]
        messages.append((TOPICS.dlq(channel), CODEC.encode(DELIVERY_TASK, task_record(a, channel, 1)), headers))
    items = []
    for n, (topic, value, headers) in enumerate(messages):
        item = to_item(Source(topic, 0, n, b"k", value, now_ms, tuple(headers)), topics, CODEC)
        assert isinstance(item, StoreItem), item
        items.append(item)
    with psycopg.connect(dsn) as conn:
        result = write_batch(conn, items)
    assert not result.rejected, result.rejected
    return h
