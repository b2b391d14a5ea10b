"""Filters, pagination, an alert's full story and stats: exactly the expected sets, computed from
the records the history was written from (not from the API's own SQL)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from alertstream.api.keys import create_key
from alertstream.api.server import ApiServer
from alertstream.consumers.store_records import Source, StoreItem, StoreTopics, to_item
from alertstream.consumers.store_writer import write_batch
from alertstream.local_stack import StackInfo
from alertstream.schemas.codec import ALERT
from tests.integration.api.conftest import Api
from tests.integration.api.history_data import BASE, CODEC, MINUTE, TOPICS, alert_record, at
from tests.integration.consumers.helpers import schema_dsn

pytestmark = pytest.mark.integration
Alert = dict[str, Any]


def _pages(client: httpx.Client, path: str, params: dict[str, Any], limit: int = 37) -> list[dict[str, Any]]:
    """Every page of a listing; asserts page sizes and that no item repeats."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        cursor = body["next_cursor"]
        assert len(body["items"]) == limit or cursor is None
        out += body["items"]
        if cursor is None:
            break
    return out


def _ordered(alerts: list[Alert]) -> list[str]:
    return [a["alert_id"] for a in sorted(alerts, key=lambda a: (a["last_seen"], a["alert_id"]), reverse=True)]


def _iso(ms: int) -> str:
    return at(ms).isoformat().replace("+00:00", "Z")


FILTERS: list[tuple[dict[str, Any], Callable[[Alert], bool]]] = [
    ({}, lambda a: True),
    ({"severity": "critical"}, lambda a: a["severity"] == "critical"),
    ({"severity": ["warning", "info"]}, lambda a: a["severity"] in ("warning", "info")),
    ({"status": "resolved"}, lambda a: a["status"] == "resolved"),
    ({"rule": "disk-full"}, lambda a: a["rule_id"] == "disk-full"),
    ({"receiver": "ops-slack"}, lambda a: "ops-slack" in [r["receiver"] for r in a["routes"]]),
    ({"fingerprint": "fp-acme-03"}, lambda a: a["fingerprint"] == "fp-acme-03"),
    (
        {"since": _iso(BASE + 100 * MINUTE), "until": _iso(BASE + 200 * MINUTE)},
        lambda a: BASE + 100 * MINUTE <= a["last_seen"] < BASE + 200 * MINUTE,
    ),
    ({"text": "kraken"}, lambda a: "kraken" in a["summary"].split()),
    ({"text": "host-3 kraken"}, lambda a: "kraken" in a["summary"].split() and a["entity"] == "host-3"),
    (
        {"severity": "critical", "rule": "cpu-high", "status": "firing", "since": _iso(BASE + 50 * MINUTE)},
        lambda a: (
            a["severity"] == "critical"
            and a["rule_id"] == "cpu-high"
            and a["status"] == "firing"
            and a["last_seen"] >= BASE + 50 * MINUTE
        ),
    ),
]


@pytest.mark.parametrize(("params", "keep"), FILTERS, ids=[str(p) for p, _ in FILTERS])
def test_filters_and_pagination_return_exactly_the_expected_alerts(
    api: Api, params: dict[str, Any], keep: Callable[[Alert], bool]
) -> None:
    with api.client(api.acme) as acme, api.client(api.admin) as admin:
        got = _pages(acme, "/api/v1/alerts", params)
        assert [a["alert_id"] for a in got] == _ordered([a for a in api.history.of("acme") if keep(a)])
        every = _pages(admin, "/api/v1/alerts", params, limit=101)
        assert [a["alert_id"] for a in every] == _ordered([a for a in api.history.alerts if keep(a)])
        initech = _pages(admin, "/api/v1/alerts", {**params, "tenant": "initech"})
        assert [a["alert_id"] for a in initech] == _ordered([a for a in api.history.of("initech") if keep(a)])
    assert got, "each filter selects something, so an empty answer cannot pass"


def test_an_alert_comes_with_its_notifications_attempts_dead_letters_and_audit_trail(api: Api) -> None:
    d = api.history.detail
    with api.client(api.acme) as c:
        body = c.get(f"/api/v1/alerts/{d['alert_id']}").json()
    assert body["alert"]["alert_id"] == d["alert_id"]
    assert body["alert"]["event_ids"] == ["ev-s1", "ev-s2", "ev-s3"]
    notes = {n["channel"]: n for n in body["notifications"]}
    assert set(notes) == {"webhook", "slack"}
    web, slack = notes["webhook"], notes["slack"]
    assert (web["state"], web["attempts"], web["status_code"]) == ("sent", 2, 200)
    assert [(h["attempt"], h["outcome"], h["reason"]) for h in web["history"]] == [
        (1, "retrying", "http_5xx"),
        (2, "sent", None),
    ]
    assert (slack["state"], slack["attempts"]) == ("sent", 2)
    assert [(h["attempt"], h["outcome"], h["status_code"]) for h in slack["history"]] == [
        (1, "dead_lettered", 400),
        (1, "sent", 200),  # after the replay: attempt 1 again, a row of its own
    ]
    assert slack["dead_lettered_at"] is not None
    assert [(e["channel"], e["reason"], e["error"], e["attempt"]) for e in body["dead_letters"]] == [
        ("slack", "http_4xx", "400 Bad Request", 1)
    ]
    assert [(e["action"], e["actor"], e["reason"]) for e in body["audit"]] == [
        ("fired", "evaluator", "escalated"),
        ("retrying", "deliver:webhook", "http_5xx"),
        ("notified", "deliver:webhook", None),
        ("dead_lettered", "deliver:slack", "http_4xx"),
        ("replayed", "dlq-replay", "http_4xx"),
        ("notified", "deliver:slack", None),
    ]


def test_explain_names_rule_version_threshold_events_and_decisions(api: Api) -> None:
    d = api.history.detail
    with api.client(api.acme) as c:
        e = c.get(f"/api/v1/alerts/{d['alert_id']}/explain").json()
    assert e["rule"] == {"id": "cpu-high", "version": 7, "description": "CPU is high", "operator": ">"}
    assert (e["threshold"], e["value"]) == (90.0, 97.5)
    assert e["trigger"]["event_ids"] == ["ev-s1", "ev-s2", "ev-s3"]
    assert e["trigger"]["occurrence_count"] == 12
    assert e["suppressions"] == {"count": 9, "by_reason": {"dedup": 6, "grouped": 3}}
    assert [(x["stage"], x["outcome"]) for x in e["decisions"]] == [
        ("dedup", "escalated"),
        ("grouping", "folded"),
        ("rate_limit", "not_applied"),
        ("routing", "routed"),
    ]
    assert "dedup: 6, grouped: 3" in e["decisions"][1]["detail"]
    assert [(p["alert_id"], p["reason"]) for p in e["previous"]] == [("al-story-1", "repeat"), ("al-story-0", "new")]


def test_deliveries_list_every_attempt_with_filters(api: Api) -> None:
    outcomes = api.history.outcomes
    with api.client(api.admin) as admin, api.client(api.acme) as acme:
        everything = _pages(admin, "/api/v1/deliveries", {}, limit=50)
        assert len(everything) == len(outcomes)
        assert len({x["id"] for x in everything}) == len(outcomes)
        assert [x["at"] for x in everything] == sorted((x["at"] for x in everything), reverse=True)
        dead = _pages(acme, "/api/v1/deliveries", {"outcome": "dead_lettered", "channel": "webhook"})
        expected = [o for o in outcomes if o["tenant"] == "acme" and o["outcome"] == "dead_lettered"]
        expected = [o for o in expected if o["channel"] == "webhook"]
        assert sorted(x["delivery_id"] for x in dead) == sorted(o["delivery_id"] for o in expected)
        assert dead, "the data has dead-lettered webhook deliveries of acme"


def _percentile(ordered: list[float], q: float) -> float:
    """PostgreSQL's ``percentile_cont``: linear between the two values around ``q * (n - 1)``."""
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def test_stats_count_exactly_what_the_range_holds(api: Api) -> None:
    since, until = BASE, BASE + 300 * MINUTE
    in_range = [a for a in api.history.of("acme") if since <= a["last_seen"] < until]
    with api.client(api.acme) as c:
        s = c.get("/api/v1/stats", params={"since": _iso(since), "until": _iso(until)}).json()
    assert s["alerts"]["total"] == len(in_range)
    assert s["alerts"]["by_severity"] == dict(Counter(a["severity"] for a in in_range))
    assert s["alerts"]["by_status"] == dict(Counter(a["status"] for a in in_range))
    assert {c["key"]: c["count"] for c in s["alerts"]["by_rule"]} == dict(Counter(a["rule_id"] for a in in_range))
    by_reason: Counter[str] = Counter()
    for a in in_range:
        breakdown = json.loads(a["details"]).get("suppressed_by_reason", {})
        by_reason.update(breakdown)
        by_reason["unattributed"] += a["suppressed_count"] - sum(breakdown.values())
    assert set(by_reason) == {"dedup", "grouped", "rate_limit", "unattributed"}, "the data has each kind"
    assert s["alerts"]["suppressed"] == sum(a["suppressed_count"] for a in in_range)
    assert s["alerts"]["suppressed_by_reason"] == dict(by_reason)
    (web,) = [x for x in s["deliveries"] if x["channel"] == "webhook"]
    outcomes = [o for o in api.history.outcomes if o["tenant"] == "acme" and since <= o["at"] < until]
    finals = [o for o in outcomes if o["attempt"] == 2]
    assert web["delivered"] == sum(1 for o in finals if o["outcome"] == "sent")
    assert web["dead_lettered"] == sum(1 for o in finals if o["outcome"] == "dead_lettered")
    assert web["attempts"] == len(outcomes)
    assert web["success_rate"] == round(web["delivered"] / (web["delivered"] + web["dead_lettered"]), 6)
    # alert -> delivery of each sent one (sent 2 s + i ms after last_seen, emitted at last_seen + 100 ms),
    # as PostgreSQL's percentile_cont interpolates them
    emitted = {a["alert_id"]: a["emitted_at"] for a in api.history.alerts}
    latencies = sorted((o["at"] - emitted[o["alert_id"]]) / 1000 for o in finals if o["outcome"] == "sent")
    assert web["alert_to_delivery_p50_seconds"] == round(_percentile(latencies, 0.5), 6)
    assert web["alert_to_delivery_p99_seconds"] == round(_percentile(latencies, 0.99), 6)
    assert web["dlq_depth"] == sum(
        1
        for o in api.history.outcomes
        if o["tenant"] == "acme" and o["outcome"] == "dead_lettered" and o["channel"] == "webhook"
    )


def test_paging_through_10000_alerts_while_new_ones_arrive_yields_each_once(stack: StackInfo) -> None:
    dsn = schema_dsn(stack.database_url)
    topics = StoreTopics.of(TOPICS)

    def write(records: list[Alert]) -> None:
        items = []
        for n, a in enumerate(records):
            item = to_item(Source(TOPICS.alerts, 0, n, b"k", CODEC.encode(ALERT, a), 0), topics, CODEC)
            assert isinstance(item, StoreItem)
            items.append(item)
        with psycopg.connect(dsn) as conn:
            for start in range(0, len(items), 1000):
                write_batch(conn, items[start : start + 1000])

    first = [alert_record(i, tenant="acme", alert_id=f"p-{i:05d}") for i in range(10_000)]
    write(first)
    key = create_key(dsn, "acme", "pager").key
    stop = threading.Event()
    arrived: list[str] = []

    def arrive() -> None:  # newer, older and same-time alerts keep arriving while the client pages
        n = 0
        while not stop.is_set():
            batch = [
                alert_record(
                    i, tenant="acme", alert_id=f"new-{n}-{uuid.uuid4().hex[:6]}", last_seen=BASE + i * MINUTE + j
                )
                for j, i in enumerate((n % 10_000, 10_500 + n, (n * 7919) % 10_000))
            ]
            write(batch)
            arrived.extend(a["alert_id"] for a in batch)
            n += 1

    writer = threading.Thread(target=arrive, daemon=True)
    # a generous timeout: on a loaded machine a page among the writer's inserts took over httpx's 5 s
    with ApiServer(dsn) as server, httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as c:
        writer.start()
        try:
            seen = _pages(c, "/api/v1/alerts", {}, limit=250)
        finally:
            stop.set()
            writer.join(30)
    ids = [a["alert_id"] for a in seen]
    counts = Counter(ids)
    assert all(n == 1 for n in counts.values()), [k for k, n in counts.items() if n > 1][:5]
    assert {i for i in ids if i.startswith("p-")} == {a["alert_id"] for a in first}
    assert set(ids) - {a["alert_id"] for a in first} <= set(arrived), "nothing but what arrived"
    assert len(arrived) >= 3, "alerts arrived while paging"
    keys = [(datetime.fromisoformat(a["last_seen"]), a["alert_id"]) for a in seen]
    assert keys == sorted(keys, reverse=True)
