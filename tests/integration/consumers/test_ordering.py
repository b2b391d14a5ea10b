"""Per (fingerprint, receiver) a receiver never gets an older notification after a newer one.

The firing fails once and goes to a retry tier; its resolve, emitted after it, is delivered
meanwhile. The firing must then not reach the receiver any more (it is ``superseded``: see
consumers/README.md, "Order per alert"): a late firing after its resolve would open an incident
(PagerDuty) that nothing resolves. The order lives in the PostgreSQL ledger, so it holds across a
restart: the second firing's retry falls due in a new process that never saw its resolve.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from alertstream.consumers.model import delivery_id
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import DELIVERY_OUTCOME, Codec
from tests.integration.consumers.helpers import (
    Hit,
    Receiver,
    Running,
    config_with,
    deliver_metrics,
    make_alert,
    metric_deltas,
    publish_alerts,
    schema_dsn,
    service_for,
    wait_for,
)
from tests.kafka_reader import read_topic

pytestmark = pytest.mark.integration


async def test_a_resolve_delivered_first_supersedes_its_failed_firing_even_across_a_restart(
    settings: Settings,
) -> None:
    now = int(time.time() * 1000)
    firing1 = make_alert([("ops", "webhook")], last_seen=now - 2000)
    resolve1 = make_alert([("ops", "webhook")], status="resolved", fingerprint=firing1["fingerprint"], last_seen=now)
    firing2 = make_alert([("ops", "webhook")], last_seen=now - 2000)
    resolve2 = make_alert([("ops", "webhook")], status="resolved", fingerprint=firing2["fingerprint"], last_seen=now)
    ids = {a["alert_id"]: delivery_id(a["alert_id"], "webhook", "ops") for a in (firing1, resolve1, firing2, resolve2)}
    answered: set[str] = set()

    def decide(hit: Hit) -> tuple[int, dict[str, str]]:
        body = json.loads(hit.body)
        first = body["alert_id"] not in answered
        answered.add(body["alert_id"])
        if first and body["alert_id"] == firing1["alert_id"]:
            return 500, {}  # back in ~1 s (tier 1)
        if first and body["alert_id"] == firing2["alert_id"]:
            return 503, {"Retry-After": "15"}  # due after the first process has stopped (slow under load)
        return 200, {}

    server = Receiver(decide=decide)
    await server.start()
    config = config_with(
        [{"name": "ops", "channel": "webhook", "url": server.url("/hook"), "allow_private": True}],
        retry_delays_seconds=[1.0, 2.0, 3.0, 4.0],
        jitter=0.0,
    )
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    before = deliver_metrics("webhook")

    def handled(alert: dict[str, Any], stats: Any) -> bool:
        """The retried firing was dealt with: superseded (correct) or delivered (the defect)."""
        return getattr(stats, "superseded", 0) >= 1 or any(
            h.status == 200 and h.headers["webhook-id"] == ids[alert["alert_id"]] for h in server.hits
        )

    try:
        async with Running(service_for("webhook", config, settings, dsn)) as first:
            publish_alerts(settings.kafka_bootstrap, settings.topics.alerts, [firing1, resolve1, firing2, resolve2])
            assert await wait_for(lambda: handled(firing1, first.stats), 30)
            stats1 = first.stats
        assert time.time() * 1000 < now + 14000, "the first process stopped before firing2 fell due"
        async with Running(service_for("webhook", config, settings, dsn)) as second:
            assert await wait_for(lambda: handled(firing2, second.stats), 40)
            stats2 = second.stats
    finally:
        await server.stop()

    seen = [(json.loads(h.body)["alert_id"], h.status) for h in server.hits]
    for firing, resolve, refusal in ((firing1, resolve1, 500), (firing2, resolve2, 503)):
        mine = [s for s in seen if s[0] in (firing["alert_id"], resolve["alert_id"])]
        # the firing's one failed attempt, then its resolve; never the firing after the resolve
        assert mine == [(firing["alert_id"], refusal), (resolve["alert_id"], 200)], mine
    assert (stats1.sent, stats1.superseded, stats2.sent, stats2.superseded) == (2, 1, 0, 1)
    outcomes = read_topic(settings.kafka_bootstrap, settings.topics.deliveries, 6)
    codec = Codec()
    records = [codec.decode(r.value, DELIVERY_OUTCOME) for r in outcomes]
    names = {
        v: k
        for k, v in {
            "firing1": ids[firing1["alert_id"]],
            "resolve1": ids[resolve1["alert_id"]],
            "firing2": ids[firing2["alert_id"]],
            "resolve2": ids[resolve2["alert_id"]],
        }.items()
    }
    got = sorted((names.get(o["delivery_id"], o["delivery_id"]), o["outcome"], o["attempt"]) for o in records)
    assert got == sorted(
        [
            ("firing1", "retrying", 1),
            ("firing1", "superseded", 1),
            ("resolve1", "sent", 1),
            ("firing2", "retrying", 1),
            ("firing2", "superseded", 1),
            ("resolve2", "sent", 1),
        ]
    ), got
    assert metric_deltas(before, deliver_metrics("webhook")) == {
        "notifications_sent": 2,
        "notifications_retrying": 2,
        "notifications_superseded": 2,
        "retries": 2,
        "latency_count": 2,
    }
