"""The Alertmanager API v2 subset and the DLQ endpoints over real HTTP, PostgreSQL and broker:
what is published for a batch (exactly), tenants, problem bodies for bad input, and the current
alerts listed from a history written by the store's own row builders."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from confluent_kafka import Producer

from alertstream.api.keys import create_key
from alertstream.api.lifecycle_bus import BusConfig
from alertstream.api.pipeline import Pipeline
from alertstream.api.server import ApiServer
from alertstream.consumers.store_records import Source, StoreItem, StoreTopics, to_item
from alertstream.consumers.store_writer import write_batch
from alertstream.consumers.task_messages import dlq_headers
from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config, parse_config
from alertstream.schemas.external_alerts import fingerprint
from alertstream.schemas.matchers import alert_labels
from tests.amtool import query
from tests.integration.api.conftest import Api
from tests.integration.consumers.helpers import make_alert, schema_dsn
from tests.kafka_reader import read_topic

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"
CODEC = Codec()
DAY = 86_400_000


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM, r.headers
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail"}, body
    return dict(body)


@pytest.fixture
def connected(api: Api, settings: Settings) -> Iterator[tuple[str, Settings]]:
    """The API on the test's own topics (exact counts of what it publishes)."""
    config = parse_config({"external_alerts": {"default_tenant": "initech"}}, "test")
    pipeline = Pipeline(settings.topics, Codec(), config, settings.kafka_bootstrap)
    with ApiServer(api.dsn, pipeline=pipeline) as server:
        yield server.url, settings


def test_a_batch_is_published_best_effort_keyed_by_fingerprint_with_the_tenant_of_the_key(
    api: Api, connected: tuple[str, Settings]
) -> None:
    url, settings = connected
    batch = [
        {"labels": {"alertname": "A", "job": "node"}, "annotations": {"summary": "s"}, "generatorURL": "http://p/g"},
        {"labels": {}},  # refused: no label
        {"labels": {"alertname": "B", "tenant": "globex"}},  # refused: another tenant than the key's
        {
            "labels": {"alertname": "C", "empty": ""},
            "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "2026-12-01T10:05:00Z",
        },
    ]
    r = httpx.post(f"{url}/api/v2/alerts", json=batch, headers={"Authorization": f"Bearer {api.acme}"})
    body = _problem(r, 400)
    assert body["errors"] == [
        {"loc": "body.1.labels", "msg": "empty_field: labels: at least one label with a value is required"},
        {"loc": "body.2.labels.tenant", "msg": "wrong_tenant: labels.tenant: names a tenant other than the API key's"},
    ]
    assert "2 of 4 alerts refused (the other 2 were accepted)" in body["detail"]
    admin = [{"labels": {"alertname": "D"}}, {"labels": {"alertname": "E", "tenant": "globex"}}]
    ok = httpx.post(f"{url}/api/v2/alerts", json=admin, headers={"Authorization": f"Bearer {api.admin}"})
    assert ok.status_code == 200, ok.text
    records = read_topic(settings.require_bootstrap(), settings.topics.events_alerts, 4)
    got = {
        CODEC.decode(r.value, c.EXTERNAL_ALERT)["labels"]["alertname"]: (r, CODEC.decode(r.value, c.EXTERNAL_ALERT))
        for r in records
    }
    assert sorted(got) == ["A", "C", "D", "E"]
    assert len(records) == 4
    for name, tenant in (("A", "acme"), ("C", "acme"), ("D", "initech"), ("E", "globex")):
        record, value = got[name]
        assert value["tenant"] == tenant, name
        assert record.key == fingerprint(tenant, value["labels"]).encode()
    assert got["A"][1]["annotations"] == {"summary": "s"}
    assert got["A"][1]["generator_url"] == "http://p/g"
    assert got["A"][1]["ends_at"] is None
    assert got["A"][1]["source"].startswith("api-key:")
    assert got["C"][1]["labels"] == {"alertname": "C"}  # empty values removed
    assert got["C"][1]["ends_at"] - got["C"][1]["starts_at"] == 300_000


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        (b"not json", 400, None),
        (b'{"labels": {"a": "b"}}', 400, None),  # an object, not an array
        (b'[{"labels": {"a b": "x"}}]', 400, "body.0.labels.a b"),
        (b'[{"labels": {"a": 1}}]', 400, "body.0.labels.a"),
        (b'[{"labels": {"a": "b"}, "startsAt": "yesterday"}]', 400, "body.0.startsAt"),
        (
            b'[{"labels": {"a": "b"}, "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}]',
            400,
            "body.0.endsAt",
        ),
        (b'[{"labels": {"a": "b\\u0000"}}]', 400, "body.0.labels.a"),
        (b'[{"labels": {"a": "b"}}, {"labels": {"a": "\\ud800"}}]', 400, "body.1.labels.a"),  # a lone surrogate
        (b'["alert"]', 400, "body.0"),
    ],
)
def test_malformed_alerts_are_400_problems_naming_the_alert(
    api: Api, body: bytes, status: int, loc: str | None
) -> None:
    r = httpx.post(
        f"{api.url}/api/v2/alerts",
        content=body,
        headers={"Authorization": f"Bearer {api.acme}", "Content-Type": "application/json"},
    )
    problem = _problem(r, status)
    if loc is not None:
        assert [e["loc"] for e in problem["errors"]] == [loc]


def test_v2_needs_a_key_and_refuses_what_it_cannot_read(api: Api) -> None:
    for method, path in (("POST", "/api/v2/alerts"), ("GET", "/api/v2/alerts"), ("GET", "/api/v2/status")):
        _problem(httpx.request(method, f"{api.url}{path}", json=[]), 401)
    with api.client(api.admin) as admin:
        body = _problem(admin.post("/api/v2/alerts", json=[{"labels": {"alertname": "NoTenant"}}]), 400)
        assert body["errors"][0]["loc"] == "body.0.labels.tenant"  # an admin key needs a tenant label here
        _problem(admin.get("/api/v2/alerts", params={"filter": 'alertname=~"("'}), 400)
        _problem(admin.get("/api/v2/alerts", params={"filter": "no operator"}), 400)
        _problem(admin.get("/api/v2/alerts", params={"receiver": "("}), 400)
        _problem(admin.get("/api/v2/alerts", params={"active": "maybe"}), 422)
        _problem(admin.post("/api/v2/alerts", content=b"[" + b'{"labels":{"a":"b"}},' * 300_000 + b"{}]"), 413)
    with api.client(api.acme) as acme:
        _problem(acme.post("/api/v1/dlq/webhook/replay", json={}), 403)
        _problem(acme.get("/api/v1/dlq/fax"), 422)
        _problem(acme.post("/api/v1/dlq/webhook/replay", json={"since": "yesterday"}), 422)


def _store(dsn: str, records: list[dict[str, Any]]) -> None:
    """Alert records written as `alertstream store` writes them."""
    topics = StoreTopics.of(Settings().topics)
    items = []
    for n, record in enumerate(records):
        source = Source(Settings().topics.alerts, 0, n, b"k", CODEC.encode(c.ALERT, record), record["last_seen"], ())
        item = to_item(source, topics, CODEC)
        assert isinstance(item, StoreItem), item
        items.append(item)
    with psycopg.connect(dsn) as conn:
        assert not write_batch(conn, items).rejected


def test_current_alerts_are_the_latest_firing_record_per_fingerprint_in_alertmanagers_shape(
    stack: Any, tmp_path: Path
) -> None:
    dsn = schema_dsn(stack.database_url)
    acme, globex, admin = (create_key(dsn, t, t or "admin").key for t in ("acme", "globex", None))
    now = int(time.time() * 1000)
    hook = [("ops-webhook", "webhook")]
    external_labels = {"alertname": "DiskFull", "instance": "db-1", "severity": "critical"}
    external_details = {
        "source": "external",
        "reason": "new",
        "starts_at": now - 3_600_000,
        "ends_at": now + 240_000,
        "generator_url": "http://prom/graph",
        "annotations": {"summary": "disk full"},
    }
    rows = [
        make_alert(hook, fingerprint="fp-a", last_seen=now - 600_000, alert_id="a1"),
        make_alert(hook, fingerprint="fp-b", last_seen=now - 1_200_000, alert_id="b1"),
        make_alert(hook, fingerprint="fp-b", last_seen=now - 300_000, alert_id="b2", status="resolved"),
        make_alert(hook, fingerprint="fp-d", last_seen=now - 40 * DAY, first_seen=now - 41 * DAY, alert_id="d1"),
        make_alert(
            [("pager", "pagerduty")], fingerprint="fp-e", tenant="globex", last_seen=now - 60_000, alert_id="e1"
        ),
        make_alert(
            hook,
            fingerprint="fp-c",
            rule_id="DiskFull",
            entity="instance=db-1,severity=critical",
            labels=external_labels,
            details=json.dumps(external_details),
            last_seen=now - 60_000,
            alert_id="c1",
        ),
    ]
    _store(dsn, rows)
    with ApiServer(dsn, pipeline=Pipeline(config=load_config(None))) as server:

        def get(key: str, **params: Any) -> list[dict[str, Any]]:
            r = httpx.get(f"{server.url}/api/v2/alerts", params=params, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
            return list(r.json())

        listed = get(acme)
        assert [a["fingerprint"] for a in listed] == ["fp-a", "fp-c"]
        ours, external = listed
        assert ours["labels"] == alert_labels(rows[0])
        assert ours["annotations"] == {"summary": rows[0]["summary"]}
        assert ours["receivers"] == [{"name": "ops-webhook"}]
        assert ours["endsAt"] == "0001-01-01T00:00:00Z"
        assert ours["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": [], "mutedBy": []}
        assert external["labels"] == external_labels
        assert external["annotations"] == {"summary": "disk full"}
        assert external["generatorURL"] == "http://prom/graph"
        assert external["startsAt"].startswith(time.strftime("%Y-%m-%dT", time.gmtime((now - 3_600_000) / 1000)))
        assert [a["fingerprint"] for a in get(globex)] == ["fp-e"]
        assert [a["fingerprint"] for a in get(admin)] == ["fp-a", "fp-c", "fp-e"]
        assert [a["fingerprint"] for a in get(acme, filter="alertname=DiskFull")] == ["fp-c"]
        assert [a["fingerprint"] for a in get(acme, filter=['rule=~"cpu.*"', "env=prod"])] == ["fp-a"]
        assert get(acme, filter='tenant="globex"') == []  # another tenant's: nothing
        assert get(acme, filter="alertname=cpu-high", receiver="pager") == []
        assert [a["fingerprint"] for a in get(admin, receiver="pag.*")] == ["fp-e"]
        assert [a["fingerprint"] for a in get(acme, silenced="false", inhibited="false")] == ["fp-a", "fp-c"]
        assert get(acme, active="false") == []

        def groups(key: str, **params: Any) -> list[tuple[dict[str, str], str, list[str]]]:
            r = httpx.get(
                f"{server.url}/api/v2/alerts/groups", params=params, headers={"Authorization": f"Bearer {key}"}
            )
            assert r.status_code == 200, r.text
            return [(g["labels"], g["receiver"]["name"], [a["fingerprint"] for a in g["alerts"]]) for g in r.json()]

        assert alert_labels(rows[0])["alertname"] == "cpu-high"
        assert groups(acme) == [  # by receiver, then alertname
            ({"alertname": "DiskFull"}, "ops-webhook", ["fp-c"]),
            ({"alertname": "cpu-high"}, "ops-webhook", ["fp-a"]),
        ]
        assert groups(admin, receiver="pag.*") == [({"alertname": "cpu-high"}, "pager", ["fp-e"])]
        assert groups(globex) == [({"alertname": "cpu-high"}, "pager", ["fp-e"])]
        assert groups(acme, filter="alertname=DiskFull") == [({"alertname": "DiskFull"}, "ops-webhook", ["fp-c"])]
        assert groups(acme, active="false") == []
        body = httpx.get(f"{server.url}/api/v2/alerts/groups", headers={"Authorization": f"Bearer {acme}"}).json()
        assert body[0]["alerts"][0] in get(acme)  # the members are the gettable alerts themselves

        # amtool 0.25 sends these filters its own way (matcher strings, receiver regex, state flags)
        def amtool(key: str, *args: str) -> list[str]:
            return [a["fingerprint"] for a in query(server.url, key, tmp_path, *args)]

        assert amtool(acme) == ["fp-a", "fp-c"]
        assert amtool(acme, "DiskFull") == ["fp-c"]  # a bare word is the alertname
        assert amtool(acme, "alertname!=DiskFull") == ["fp-a"]
        assert amtool(acme, "instance=~db-.*", "severity=critical") == ["fp-c"]
        assert amtool(acme, "instance!~db-.*") == ["fp-a"]
        assert amtool(admin, "-r", "pag.*") == ["fp-e"]
        assert amtool(admin, "--receiver=ops-webhook") == ["fp-a", "fp-c"]
        assert amtool(globex, "-r", "ops-webhook") == []
        assert amtool(acme, "-s") == []  # silenced only: none is (every current alert is active)
        assert amtool(acme, "-u") == []
        assert amtool(acme, "-a", "-s", "-i") == ["fp-a", "fp-c"]
        status = httpx.get(f"{server.url}/api/v2/status", headers={"Authorization": f"Bearer {acme}"}).json()
        assert status["cluster"] == {"status": "disabled", "peers": []}
        assert "resolve_timeout: 300s" in status["config"]["original"]
        receivers = httpx.get(f"{server.url}/api/v2/receivers", headers={"Authorization": f"Bearer {acme}"}).json()
        assert receivers == [{"name": r.name} for r in load_config(None).receivers]


def test_the_dlq_endpoints_list_per_tenant_and_replay_once_with_an_audit_row(
    api: Api, connected: tuple[str, Settings]
) -> None:
    url, settings = connected
    bootstrap = settings.require_bootstrap()
    dlq = settings.topics.dlq("webhook")
    now = int(time.time() * 1000)
    tasks = {
        tenant: {
            "delivery_id": f"msg_dlq_{tenant}",
            "channel": "webhook",
            "receiver": "ops-webhook",
            "alert": make_alert([("ops-webhook", "webhook")], tenant=tenant, fingerprint=f"fp-dlq-{tenant}"),
            "attempt": 3,
            "first_attempt_at": now - 60_000,
            "not_before": 0,
            "last_reason": "http_4xx",
            "last_error": "400 Bad Request",
        }
        for tenant in ("acme", "globex")
    }
    producer = Producer(producer_config(bootstrap))
    for tenant, task in tasks.items():
        headers = dlq_headers(3, "http_4xx", "400 Bad Request", "critical", now)
        producer.produce(dlq, key=tenant.encode(), value=CODEC.encode(c.DELIVERY_TASK, task), headers=headers)
    producer.produce(dlq, key=b"x", value=b"not a task", headers=dlq_headers(0, "undecodable", "bad", "", now))
    assert producer.flush(30) == 0

    def listed(key: str, **params: str) -> list[tuple[str | None, str | None]]:
        r = httpx.get(f"{url}/api/v1/dlq/webhook", params=params, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        assert r.json()["truncated"] is False
        return sorted(((t["tenant"], t["delivery_id"]) for t in r.json()["items"]), key=str)

    everything = [(None, None), ("acme", "msg_dlq_acme"), ("globex", "msg_dlq_globex")]
    assert listed(api.admin) == sorted(everything, key=str)
    assert listed(api.acme) == [("acme", "msg_dlq_acme")]  # no other tenant's, no undecodable entry
    assert listed(api.acme, fingerprint="fp-dlq-globex") == []
    r = httpx.get(f"{url}/api/v1/dlq/webhook", headers={"Authorization": f"Bearer {api.globex}"})
    assert "acme" not in r.text
    email = httpx.get(f"{url}/api/v1/dlq/email", headers={"Authorization": f"Bearer {api.admin}"})
    assert email.json() == {"items": [], "truncated": False}  # another channel's DLQ

    r = httpx.post(
        f"{url}/api/v1/dlq/webhook/replay",
        json={"fingerprint": "fp-dlq-acme"},
        headers={"Authorization": f"Bearer {api.admin}"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 1, "skipped_undecodable": 0, "topic": settings.topics.retry("webhook", 1)}
    (replayed,) = read_topic(bootstrap, settings.topics.retry("webhook", 1), 1)
    task = CODEC.decode(replayed.value, c.DELIVERY_TASK)
    assert (task["delivery_id"], task["attempt"]) == ("msg_dlq_acme", 0)  # the same delivery: the ledger dedups
    assert replayed.headers["replayed"] == b"1"
    with psycopg.connect(api.dsn) as conn:
        rows = conn.execute(
            "SELECT actor, details FROM audit_log WHERE action = 'dlq_replayed' AND details->>'fingerprint' = %s",
            ("fp-dlq-acme",),
        ).fetchall()
    assert [(actor, d["replayed"], d["channel"]) for actor, d in rows] == [(f"api-key:{api.admin[4:16]}", 1, "webhook")]

    # the console's replay of one delivery: exactly the named one (not the other tenant's, not the
    # undecodable entry), behind the one replayed above
    r = httpx.post(
        f"{url}/api/v1/dlq/webhook/replay",
        json={"delivery_ids": ["msg_dlq_globex"]},
        headers={"Authorization": f"Bearer {api.admin}"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 1, "skipped_undecodable": 0, "topic": settings.topics.retry("webhook", 1)}
    records = read_topic(bootstrap, settings.topics.retry("webhook", 1), 2)
    assert [CODEC.decode(m.value, c.DELIVERY_TASK)["delivery_id"] for m in records] == [
        "msg_dlq_acme",
        "msg_dlq_globex",
    ]


def test_silenced_inhibited_and_muted_alerts_are_suppressed_naming_their_cause(
    stack: Any, settings: Settings, tmp_path: Path
) -> None:
    """Alertmanager's ``status`` of each current alert: a silence created after the alert notified
    suppresses it at once (from the API's silences view) and its expiry makes it active again; a
    notification the lifecycle held for an inhibit rule or a time interval names the rule or
    interval; a record held by a silence that has since ended is active. amtool's state flags
    select on it (``-s``, ``-i``; by default only active alerts)."""
    dsn = schema_dsn(stack.database_url)
    acme = create_key(dsn, "acme", "acme").key
    hook = [("ops-webhook", "webhook")]

    def held(fp: str, hold: dict[str, str]) -> dict[str, Any]:
        details = json.dumps({"reason": hold["reason"], "suppression": hold})
        return make_alert([], fingerprint=fp, entity=fp, details=details, event="suppressed", alert_id=f"{fp}-held")

    _store(
        dsn,
        [
            make_alert(hook, fingerprint="fp-active", entity="web-1", alert_id="a1"),
            make_alert(hook, fingerprint="fp-later", entity="db-9", alert_id="l1"),
            held("fp-inhibited", {"reason": "inhibited", "inhibit_rule": "db-down"}),
            held("fp-muted", {"reason": "muted", "time_interval": "weekends"}),
            held("fp-was-silenced", {"reason": "silenced", "silence_id": "ended-long-ago"}),
        ],
    )
    config = load_config(None)
    bus = BusConfig(settings.require_bootstrap(), settings.topics, config)
    with ApiServer(dsn, pipeline=Pipeline(config=config), bus=bus) as server:
        headers = {"Authorization": f"Bearer {acme}"}

        def states(**params: Any) -> dict[str, tuple[str, list[str], list[str], list[str]]]:
            r = httpx.get(f"{server.url}/api/v2/alerts", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return {
                a["fingerprint"]: (
                    a["status"]["state"],
                    a["status"]["silencedBy"],
                    a["status"]["inhibitedBy"],
                    a["status"]["mutedBy"],
                )
                for a in r.json()
            }

        quiet = ("active", [], [], [])
        assert states() == {
            "fp-active": quiet,
            "fp-later": quiet,
            "fp-inhibited": ("suppressed", [], ["db-down"], []),
            "fp-muted": ("suppressed", [], [], ["weekends"]),
            "fp-was-silenced": quiet,  # its silence is not in force any more
        }
        silence = {
            "matchers": [{"name": "entity", "value": "db-9", "isRegex": False, "isEqual": True}],
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "2099-01-01T00:00:00Z",
            "createdBy": "alice",
            "comment": "maintenance",
        }
        created = httpx.post(f"{server.url}/api/v2/silences", json=silence, headers=headers)
        assert created.status_code == 200, created.text
        silence_id = created.json()["silenceID"]
        assert states()["fp-later"] == ("suppressed", [silence_id], [], [])  # no new record needed
        assert set(states(silenced="false")) == {"fp-active", "fp-inhibited", "fp-muted", "fp-was-silenced"}
        assert set(states(inhibited="false", silenced="false")) == {"fp-active", "fp-muted", "fp-was-silenced"}

        def amtool(*args: str) -> list[str]:
            return sorted(a["fingerprint"] for a in query(server.url, acme, tmp_path, *args))

        # amtool shows active alerts by default; like Alertmanager's, a muted alert counts as active
        assert amtool() == ["fp-active", "fp-muted", "fp-was-silenced"]
        assert amtool("-s") == ["fp-later"]
        assert amtool("-i") == ["fp-inhibited"]
        everything = ["fp-active", "fp-inhibited", "fp-later", "fp-muted", "fp-was-silenced"]
        assert amtool("-a", "-s", "-i") == everything

        gone = httpx.delete(f"{server.url}/api/v2/silence/{silence_id}", headers=headers)
        assert gone.status_code == 200, gone.text
        assert states()["fp-later"] == quiet
