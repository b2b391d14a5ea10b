"""Acknowledge and resolve end to end (issue 13): a real worker walks an escalation policy, real
`alertstream deliver pagerduty|webhook` processes page loopback receivers, the store writes
PostgreSQL and a real `alertstream api` takes the user's actions.

An acknowledged alert stops escalating and is not re-notified, while an un-acknowledged one on the
same policy keeps walking it (the positive marker that the timers ran past the point where the
acknowledged one would have paged again); PagerDuty receives ``acknowledge`` and ``resolve`` on the
alert's dedup key; the episode's audit trail reads back in order."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from alertstream.api.keys import create_key
from alertstream.consumers.store import run_store
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from alertstream.schemas.events import MetricEvent
from tests.integration.consumers.helpers import deliver_env, schema_dsn, start_deliver
from tests.integration.streams.lifecycle_stack import (
    Alert,
    ApiProcess,
    ThreadReceiver,
    alerts_until,
    briefs,
    reason,
)
from tests.integration.streams.worker_proc import WorkerProcess, publish, settled_alerts, start_worker, warm_up
from tests.integration.streams.worker_proc import write_config as worker_config
from tests.polling import wait_until

pytestmark = pytest.mark.integration

RULE = {
    "id": "cpu",
    "metric": "cpu_percent",
    "operator": ">",
    "critical": 90,
    "clear": 60,
    "dedup_window_seconds": 1,
    "repeat_interval_seconds": 1,  # an un-acknowledged alert is re-notified by its next event
}
ROUTING_KEY = "R0UTINGKEY0000000000000000000000"


def _config(receiver: ThreadReceiver) -> dict[str, Any]:
    return {
        "receivers": [
            {
                "name": "pd",
                "channel": "pagerduty",
                "url": receiver.url("/pd"),
                "routing_key_env": "T_PD_KEY",
                "allow_private": True,
            },
            {"name": "lead", "channel": "webhook", "url": receiver.url("/lead"), "allow_private": True},
        ],
        "delivery": {"retry_delays_seconds": [0.5, 1, 2, 3]},
        # wait 2 s, page the lead; five more rounds while nobody acknowledges
        "escalation_policies": [{"name": "db", "steps": [{"wait_seconds": 2}, {"notify": "lead"}], "repeat": 5}],
        "routes": {"receiver": "pd", "escalation_policy": "db"},
    }


def _fire(settings: Settings, *entities: str) -> None:
    now = int(time.time() * 1000)
    publish(settings, [MetricEvent(f"{e}-{now}", "acme", "cpu_percent", 95.0, e, now) for e in entities])


def receivers(alert: Alert) -> list[str]:
    return [r["receiver"] for r in alert["routes"]]


def _escalations(alerts: list[Alert], entity: str) -> list[Alert]:
    return [a for a in alerts if a["entity"] == entity and reason(a) == "escalation"]


def test_ack_stops_escalation_and_renotification_pagerduty_gets_acknowledge_and_the_trail_reads_in_order(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    receiver = ThreadReceiver()
    config = worker_config(tmp_path / "ack.yaml", [RULE], **_config(receiver))
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    env = {**deliver_env(settings, config), "ALERTSTREAM_DATABASE_URL": dsn, "T_PD_KEY": ROUTING_KEY}
    delivers = [start_deliver(ch, env, tmp_path / f"deliver-{ch}.log") for ch in ("pagerduty", "webhook")]
    stop = threading.Event()
    store = threading.Thread(
        target=run_store, args=(settings.require_bootstrap(), dsn, settings.topics, stop), kwargs={"codec": Codec()}
    )
    store.start()
    worker = start_worker(workers, settings, config)
    api = ApiProcess(settings, config, dsn, tmp_path / "api.log")
    try:
        key = create_key(dsn, "acme", "ack test").key
        warm_up(settings, worker)
        _fire(settings, "db-1", "db-2")
        fired = alerts_until(settings, lambda a: len(_escalations(a, "db-1")) >= 1)
        first = next(a for a in fired if a["entity"] == "db-1")
        fp1, fp2 = first["fingerprint"], next(a["fingerprint"] for a in fired if a["entity"] == "db-2")
        assert briefs([first], "db-1") == [("firing", "notify", "new")]

        with api.client(key) as client:

            def stored() -> bool:
                return client.get(f"/api/v1/alerts/{first['alert_id']}").status_code == 200

            wait_until(stored, 60, "the store writes the alert")
            acked = client.post(f"/api/v1/alerts/{first['alert_id']}/ack", json={"comment": "on it"})
            assert acked.status_code == 202, acked.text
            assert acked.json()["fingerprint"] == fp1

            def pd(fp: str) -> list[str]:
                return [h.body["event_action"] for h in receiver.hits("/pd") if h.body["dedup_key"] == fp]

            wait_until(lambda: "acknowledge" in pd(fp1), 60, "PagerDuty receives the acknowledgement")
            at_ack = alerts_until(settings, lambda a: any(x["event"] == "acknowledged" for x in a))
            paged_before_ack = len(_escalations(at_ack, "db-1"))
            control_before = len(_escalations(at_ack, "db-2"))

            _fire(settings, "db-1", "db-2")  # a repeat: db-2 is re-notified, db-1 (acknowledged) is not
            # the control keeps escalating: two more of its pages = the acknowledged one's timers had time
            alerts_until(settings, lambda a: len(_escalations(a, "db-2")) >= control_before + 2)

            resolved = client.post(f"/api/v1/alerts/{first['alert_id']}/resolve", json={"comment": "fixed"})
            assert resolved.status_code == 202, resolved.text
            # the control too (bulk, by matchers): then no timer runs and the topic can settle
            bulk = client.post("/api/v1/alerts/resolve", json={"matchers": ['entity="db-2"'], "comment": "done"})
            assert bulk.status_code == 202, bulk.text
            assert bulk.json()["matched"] == 1
            wait_until(lambda: "resolve" in pd(fp1) and "resolve" in pd(fp2), 60, "PagerDuty receives both resolves")

            alerts = settled_alerts(settings, worker)
            db1 = briefs(alerts, "db-1")
            assert db1 == [
                ("firing", "notify", "new"),
                *[("firing", "notify", "escalation")] * paged_before_ack,
                ("firing", "acknowledged", "acknowledged"),
                ("resolved", "notify", "resolved_by_user"),
            ], db1
            assert len(_escalations(alerts, "db-1")) == paged_before_ack  # none after the acknowledgement
            db2 = Counter(briefs(alerts, "db-2"))
            assert db2[("firing", "notify", "new")] == 1
            assert db2[("firing", "notify", "repeat")] == 1  # the same event re-notified the un-acknowledged one
            assert set(db2) == {
                ("firing", "notify", "new"),
                ("firing", "notify", "repeat"),
                ("firing", "notify", "escalation"),
                ("resolved", "notify", "resolved_by_user"),
            }

            wait_until(lambda: pd(fp2) == ["trigger", "trigger", "resolve"], 60, "PagerDuty has the control's repeat")
            assert pd(fp1) == ["trigger", "acknowledge", "resolve"]  # one dedup key: trigger → acknowledge → resolve
            # the lead got each db-1 record routed to it exactly once: its pages, the acknowledgement, the resolve
            to_lead = [x["alert_id"] for x in alerts if x["fingerprint"] == fp1 and "lead" in receivers(x)]

            def lead_ids() -> list[str]:
                return [h.body["alert_id"] for h in receiver.hits("/lead") if h.body["fingerprint"] == fp1]

            wait_until(lambda: set(lead_ids()) >= set(to_lead), 60, "the lead's notifications are delivered")
            assert Counter(lead_ids()) == Counter(to_lead)
            assert [reason(x) for x in alerts if x["alert_id"] in to_lead] == [
                *["escalation"] * paged_before_ack,
                "acknowledged",
                "resolved_by_user",  # a receiver an escalation paged hears how it ended
            ]

            def trail() -> list[str]:
                r = client.get(f"/api/v1/alerts/{first['alert_id']}/trail")
                assert r.status_code == 200, r.text
                return [e["action"] for e in r.json()["entries"]]

            wait_until(lambda: "resolved" in trail(), 60, "the trail has the resolve")
            actions = trail()
            # explain names the lifecycle's decisions: the page and the acknowledgement
            page = _escalations(alerts, "db-1")[0]
            ack = next(x for x in alerts if x["fingerprint"] == fp1 and x["event"] == "acknowledged")
            explained: dict[str, dict[str, str]] = {}
            for x in (page, ack):
                r = client.get(f"/api/v1/alerts/{x['alert_id']}/explain")
                assert r.status_code == 200, r.text
                explained[reason(x)] = {d["stage"]: d for d in r.json()["decisions"]}["lifecycle"]
    finally:
        api.stop()
        stop.set()
        store.join(30)
        for proc in delivers:
            proc.terminate()
            proc.wait(30)
        receiver.stop()
    key_steps = [
        a for a in actions if a in {"fired", "escalated", "acknowledge", "acknowledged", "resolve", "resolved"}
    ]
    assert key_steps == [
        "fired",
        *["escalated"] * paged_before_ack,
        "acknowledge",
        "acknowledged",
        "resolve",
        "resolved",
    ], actions
    assert actions.index("notified") < actions.index("escalated")
    assert explained["escalation"]["detail"] == "step 2 of escalation policy db (round 1) paged lead"
    assert explained["acknowledged"]["outcome"] == "acknowledged"
    assert explained["acknowledged"]["detail"].startswith("acknowledged by api-key:")
    assert ": on it — no re-notification" in explained["acknowledged"]["detail"]
    # one delivery each: the first page (pd), the lead's pages, the acknowledgement and the resolve (pd + lead)
    assert Counter(actions)["notified"] == 1 + paged_before_ack + 2 + 2, actions
    assert len(actions) == len(key_steps) + Counter(actions)["notified"], actions
