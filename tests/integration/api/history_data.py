"""A history with known content, written through the store's own row builders and writer (the
rows are exactly what `alertstream store` writes for these records)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from alertstream.consumers.store_records import Source, StoreItem, StoreTopics, to_item
from alertstream.consumers.store_writer import write_batch
from alertstream.consumers.task_messages import dlq_headers, retry_headers
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, DELIVERY_TASK, Codec
from alertstream.schemas.topics import TopicNames

CODEC = Codec()
TOPICS = TopicNames("api.")
TENANTS = ("acme", "globex", "initech")
SEVERITIES = ("critical", "warning", "info")
RULES = ("cpu-high", "disk-full", "denial-drift", "latency")
#: 2026-11-01T00:00:00Z; alert i has last_seen BASE + i minutes
BASE = 1_793_491_200_000
MINUTE = 60_000


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def at(ms_: int) -> datetime:
    return datetime.fromtimestamp(ms_ / 1000, tz=UTC)


def alert_record(i: int, **over: Any) -> dict[str, Any]:
    tenant = TENANTS[i % 3]
    rule = RULES[i % 4]
    routes = [] if i % 5 == 0 else [{"receiver": "ops-webhook", "channel": "webhook"}]
    if i % 2 == 0 and routes:
        routes.append({"receiver": "ops-slack", "channel": "slack"})
    words = " kraken" if i % 11 == 0 else ""
    record: dict[str, Any] = {
        "alert_id": f"al-{i:04d}",
        "tenant": tenant,
        "rule_id": rule,
        "rule_version": 3,
        "status": "resolved" if i % 7 == 0 else "firing",
        "severity": SEVERITIES[(i // 3) % 3],
        "fingerprint": f"fp-{tenant}-{i % 40:02d}",
        "entity": f"host-{i % 10}",
        "summary": f"{rule} on host-{i % 10}{words} is {i}",
        "details": json.dumps({"rule": rule, "operator": ">", "reason": "new", "metric": "cpu_percent", "value": i}),
        "labels": {"env": "prod"},
        "value": float(i),
        "threshold": 90.0,
        "occurrence_count": 1 + i % 4,
        "suppressed_count": i % 4,
        "first_seen": BASE + i * MINUTE - 30_000,
        "last_seen": BASE + i * MINUTE,
        "emitted_at": BASE + i * MINUTE + 100,
        "event_ids": [f"ev-{i}-a", f"ev-{i}-b"],
        "routes": routes,
        "rate_limited": False,
    }
    breakdown = {1: {"dedup": 1}, 2: {"dedup": 1, "rate_limit": 1}, 3: {"grouped": 2, "dedup": 1}}.get(i % 8)
    if breakdown is not None:  # the others with suppressions are as written before the breakdown
        record["details"] = json.dumps({**json.loads(record["details"]), "suppressed_by_reason": breakdown})
    record.update(over)
    return record


def outcome_record(
    a: dict[str, Any], channel: str, outcome: str, attempt: int, at_ms: int, **over: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "delivery_id": f"msg_{a['alert_id']}_{channel}",
        "alert_id": a["alert_id"],
        "fingerprint": a["fingerprint"],
        "tenant": a["tenant"],
        "channel": channel,
        "receiver": f"ops-{channel}",
        "outcome": outcome,
        "attempt": attempt,
        "status_code": 200 if outcome == "sent" else 503,
        "reason": None if outcome == "sent" else "http_5xx",
        "latency_seconds": 0.05,
        "at": at_ms,
    }
    record.update(over)
    return record


def task_record(a: dict[str, Any], channel: str, attempt: int, not_before: int = 0) -> dict[str, Any]:
    return {
        "delivery_id": f"msg_{a['alert_id']}_{channel}",
        "channel": channel,
        "receiver": f"ops-{channel}",
        "alert": a,
        "attempt": attempt,
        "first_attempt_at": 0,
        "not_before": not_before,
        "last_reason": "http_4xx",
        "last_error": "400 Bad Request",
    }


@dataclass
class History:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    #: the alert with a full story: retried then sent on webhook, dead-lettered then replayed on slack
    detail: dict[str, Any] = field(default_factory=dict)
    previous: list[dict[str, Any]] = field(default_factory=list)

    def of(self, tenant: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["tenant"] == tenant]


def _messages(h: History) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    out: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []

    def enc(headers: list[tuple[str, Any]]) -> list[tuple[str, bytes]]:
        return [(k, v if isinstance(v, bytes) else str(v).encode()) for k, v in headers]

    for a in h.alerts:
        out.append((TOPICS.alerts, CODEC.encode(ALERT, a), []))
    for o in h.outcomes:
        out.append((TOPICS.deliveries, CODEC.encode(DELIVERY_OUTCOME, o), []))
    d = h.detail
    t = d["last_seen"]
    out.append(
        (
            TOPICS.dlq("slack"),
            CODEC.encode(DELIVERY_TASK, task_record(d, "slack", 1)),
            enc(dlq_headers(1, "http_4xx", "400 Bad Request", "critical", t + 3000)),
        )
    )
    out.append(
        (
            TOPICS.retry("slack", 1),
            CODEC.encode(DELIVERY_TASK, task_record(d, "slack", 0, t + 4000)),
            enc(retry_headers(0, t + 4000, None, True)),
        )
    )
    return out


def build_history() -> History:
    h = History()
    h.alerts = [alert_record(i) for i in range(600)]
    for a in h.alerts:
        i = int(a["alert_id"][3:])
        if i % 4 == 0 and a["routes"]:
            t = a["last_seen"]
            final = "dead_lettered" if i % 8 == 0 else "sent"
            h.outcomes.append(outcome_record(a, "webhook", "retrying", 1, t + 1000 + i))
            h.outcomes.append(outcome_record(a, "webhook", final, 2, t + 2000 + i))
    fp = "fp-acme-story"
    h.previous = [
        alert_record(
            900 + n,
            alert_id=f"al-story-{n}",
            tenant="acme",
            fingerprint=fp,
            last_seen=BASE + 700 * MINUTE + n * MINUTE,
            details=json.dumps({"rule": "cpu-high", "reason": reason}),
        )
        for n, reason in enumerate(("new", "repeat"))
    ]
    t = BASE + 710 * MINUTE
    h.detail = alert_record(
        999,
        alert_id="al-story-detail",
        tenant="acme",
        fingerprint=fp,
        rule_id="cpu-high",
        rule_version=7,
        severity="critical",
        status="firing",
        threshold=90.0,
        value=97.5,
        occurrence_count=12,
        suppressed_count=9,
        event_ids=["ev-s1", "ev-s2", "ev-s3"],
        last_seen=t,
        first_seen=t - 600_000,
        emitted_at=t + 50,
        details=json.dumps(
            {
                "rule": "cpu-high",
                "description": "CPU is high",
                "operator": ">",
                "reason": "escalated",
                "metric": "cpu_percent",
                "suppressed_by_reason": {"dedup": 6, "grouped": 3},
            }
        ),
        routes=[{"receiver": "ops-webhook", "channel": "webhook"}, {"receiver": "ops-slack", "channel": "slack"}],
    )
    d = h.detail
    h.outcomes += [
        outcome_record(d, "webhook", "retrying", 1, t + 1000),
        outcome_record(d, "webhook", "sent", 2, t + 2000),
        outcome_record(d, "slack", "dead_lettered", 1, t + 3000, status_code=400, reason="http_4xx"),
        outcome_record(d, "slack", "sent", 1, t + 5000),
    ]
    h.alerts += [*h.previous, d]
    return h


def write_history(dsn: str) -> History:
    h = build_history()
    topics = StoreTopics.of(TOPICS)
    items = []
    for n, (topic, value, headers) in enumerate(_messages(h)):
        item = to_item(Source(topic, 0, n, b"k", value, BASE, tuple(headers)), topics, CODEC)
        assert isinstance(item, StoreItem), item
        items.append(item)
    with psycopg.connect(dsn) as conn:
        result = write_batch(conn, items)
    assert not result.rejected
    return h
