"""The console's endpoints over real HTTP and a real PostgreSQL: counts and groups, an alert's
timeline, the overview, the matcher preview, the live stream (out-of-order commits, tenants,
revoked keys, shutdown), and the page and its assets — all scoped by tenant."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from alertstream.api.console import live
from alertstream.api.keys import create_key, revoke_key
from alertstream.api.server import ApiServer
from alertstream.local_stack import StackInfo
from tests.integration.api.console_history import Recent, write_recent
from tests.integration.api.sse_reader import live_stream
from tests.integration.consumers.helpers import schema_dsn

pytestmark = pytest.mark.integration
NOW = int(time.time() * 1000)


@dataclass(frozen=True)
class Console:
    url: str
    dsn: str
    history: Recent
    acme: str
    globex: str
    admin: str

    def get(self, key: str, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def post(self, key: str, path: str, body: Any, **params: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}", json=body, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


@pytest.fixture(scope="module")
def console(stack: StackInfo) -> Iterator[Console]:
    dsn = schema_dsn(stack.database_url)
    history = write_recent(dsn, NOW)
    keys = [create_key(dsn, t, f"console {t}").key for t in ("acme", "globex", None)]
    with ApiServer(dsn) as server:
        yield Console(server.url, dsn, history, *keys)


def _since() -> str:
    """24 h before the history's "now" (the data spans it): a test that runs minutes after the
    module was imported, as in a long `make test`, still selects every row."""
    return (datetime.fromtimestamp(NOW / 1000, UTC) - timedelta(hours=24)).isoformat()


def test_counts_and_groups_are_those_of_the_tenants_alerts(console: Console) -> None:
    acme = console.history.of("acme")
    r = console.get(console.acme, "/api/v1/alert-groups", by="rule", since=_since())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"] == {
        "total": len(acme),
        "by_severity": dict(Counter(a["severity"] for a in acme)),
        "by_status": dict(Counter(a["status"] for a in acme)),
    }
    by_rule = Counter(a["rule_id"] for a in acme)
    assert {g["key"]: g["count"] for g in body["groups"]} == dict(by_rule)
    for g in body["groups"]:
        mine = [a for a in acme if a["rule_id"] == g["key"]]
        newest = max(mine, key=lambda a: (a["last_seen"], a["alert_id"]))
        assert g["latest"]["alert_id"] == newest["alert_id"]
        assert g["firing"] == sum(a["status"] == "firing" for a in mine)
    # the listing's own filters apply: critical firing alerts of one rule, by fingerprint
    r = console.get(
        console.acme, "/api/v1/alert-groups", by="fingerprint", severity="critical", status="firing", rule="cpu-high"
    )
    chosen = [a for a in acme if (a["severity"], a["status"], a["rule_id"]) == ("critical", "firing", "cpu-high")]
    assert r.json()["counts"]["total"] == len(chosen)
    assert sorted(g["key"] for g in r.json()["groups"]) == sorted({a["fingerprint"] for a in chosen})
    # an admin sees both tenants; a tenant naming another gets the answer of "absent"
    both = console.get(console.admin, "/api/v1/alert-groups", since=_since()).json()["counts"]["total"]
    assert both == len(console.history.alerts)
    assert console.get(console.globex, "/api/v1/alert-groups", tenant="acme").status_code == 404


def test_the_timeline_of_an_alert_tells_its_story_and_only_to_its_tenant(console: Console) -> None:
    story = console.history.story
    r = console.get(console.acme, f"/api/v1/alerts/{story['alert_id']}/timeline")
    assert r.status_code == 200, r.text
    t = r.json()
    assert [(e["kind"], e["outcome"]) for e in t["entries"]] == [
        ("breach", None),
        ("suppressed", None),
        ("fired", None),
        ("routed", None),
        ("attempt", "retrying"),
        ("attempt", "dead_lettered"),
        ("attempt", "sent"),
        ("resolved", None),
    ]
    attempts = [e for e in t["entries"] if e["kind"] == "attempt"]
    assert [(e["channel"], e["latency_seconds"], e["status_code"]) for e in attempts] == [
        ("webhook", 0.31, 503),
        ("slack", 0.2, 400),
        ("webhook", 0.048, 200),
    ]
    assert attempts[1]["detail"] == "DLQ reason http_4xx: 400 Bad Request: invalid_blocks"
    assert t["entries"][-1]["alert_id"] == console.history.story_resolved["alert_id"]
    assert t["resolved_at"] is not None
    assert "cpu_percent 97.5 > 90" in t["explanation"]
    assert "(dedup: 6, grouped: 3)" in t["explanation"]
    hidden = console.get(console.globex, f"/api/v1/alerts/{story['alert_id']}/timeline")
    assert hidden.status_code == 404
    assert story["alert_id"] not in hidden.text


def test_the_overview_adds_up_to_the_history_of_the_tenant(console: Console) -> None:
    acme = console.history.of("acme")
    r = console.get(console.acme, "/api/v1/stats/overview", since=_since())
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["bucket_seconds"] == 1800
    series = Counter[str]()
    for point in o["alerts_by_severity"]:
        series.update({k: int(v) for k, v in point["values"].items()})
    assert +series == Counter(a["severity"] for a in acme)
    folded: Counter[str] = Counter()
    unattributed = 0
    for a in acme:
        breakdown = json.loads(a["details"]).get("suppressed_by_reason")
        if breakdown:
            folded.update(breakdown)
        else:
            unattributed += a["suppressed_count"]
    expected = {k: v for k, v in folded.items() if v}
    if unattributed:
        expected["unattributed"] = unattributed
    assert o["suppressed_by_reason"] == expected
    assert o["rate_limited"] == sum(a["rate_limited"] for a in acme)
    outcomes = [x for x in console.history.outcomes if x["tenant"] == "acme"]
    channels = {c["channel"]: c for c in o["deliveries"]}
    assert set(channels) == {"webhook", "slack", "pagerduty"}
    for name, c in channels.items():
        sent = sum(p["values"]["sent"] for p in c["points"])
        failed = sum(p["values"]["failed"] for p in c["points"])
        assert sent == sum(1 for x in outcomes if x["channel"] == name and x["outcome"] == "sent")
        assert failed == sum(1 for x in outcomes if x["channel"] == name and x["outcome"] != "sent")
    assert [(b["receiver"], b["failures"], b["last_reason"]) for b in o["open_breakers"]] == [
        ("ops-pagerduty", 5, "http_5xx")
    ]
    rules = Counter(a["rule_id"] for a in acme)
    assert [(n["key"], n["alerts"]) for n in o["noisiest_rules"]] == sorted(
        rules.items(),
        key=lambda kv: (-kv[1], -sum(a["suppressed_count"] for a in acme if a["rule_id"] == kv[0]), kv[0]),
    )
    assert o["stats"]["alerts"]["total"] == len(acme)
    assert {c["channel"]: c["dlq_depth"] for c in o["stats"]["deliveries"]}["slack"] == 1
    # globex's receivers are fine, and it sees none of acme's
    g = console.get(console.globex, "/api/v1/stats/overview", since=_since()).json()
    assert g["open_breakers"] == []
    assert g["stats"]["alerts"]["total"] == len(console.history.of("globex"))
    assert console.get(console.globex, "/api/v1/stats/overview", tenant="acme").status_code == 404


def _firing_latest(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for a in sorted(alerts, key=lambda a: (a["last_seen"], a["alert_id"])):
        latest[a["fingerprint"]] = a
    return {fp: a for fp, a in latest.items() if a["status"] == "firing"}


def test_the_matcher_preview_selects_the_firing_alerts_the_matchers_match(console: Console) -> None:
    def preview(key: str, *matchers: tuple[str, str, bool, bool], **params: str) -> httpx.Response:
        body = {"matchers": [{"name": n, "value": v, "isRegex": r, "isEqual": e} for n, v, r, e in matchers]}
        return console.post(key, "/api/v1/matchers/preview", body, **params)

    firing = _firing_latest(console.history.of("acme"))
    cpu = {a["alert_id"] for a in firing.values() if a["rule_id"] == "cpu-high"}
    r = preview(console.acme, ("alertname", "cpu-high", False, True))
    assert r.status_code == 200, r.text
    assert r.json()["matched"] == len(cpu) > 0
    assert {a["alert_id"] for a in r.json()["alerts"]} == cpu
    # regex and negative matchers on event labels and alert fields
    r = preview(console.acme, ("entity", "cpu-.*", True, True), ("team", "payments", False, False))
    assert {a["alert_id"] for a in r.json()["alerts"]} == {
        a["alert_id"] for a in firing.values() if a["entity"].startswith("cpu-") and a["labels"]["team"] != "payments"
    }
    # the story's episode has resolved: nothing of it is firing now
    assert preview(console.acme, ("entity", "db-7", False, True)).json()["matched"] == 0
    # another tenant's alerts are never examined
    g = preview(console.globex, ("alertname", "cpu-high", False, True)).json()
    assert {a["tenant"] for a in g["alerts"]} == {"globex"}
    assert preview(console.globex, ("alertname", "cpu-high", False, True), tenant="acme").status_code == 404
    bad = preview(console.acme, ("entity", "(", True, True))
    assert bad.status_code == 422
    assert "invalid regex" in bad.json()["detail"]


def _audit(dsn: str, tenant: str, action: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, tenant, alert_id) VALUES (now(), 'test', %s, %s, %s)",
            (action, tenant, f"al-{action}"),
        )


def test_the_live_stream_sends_each_change_once_even_when_commits_come_out_of_order(console: Console) -> None:
    with live_stream(console.url, console.acme) as stream:
        assert stream.status == 200
        stream.until(lambda e: e.event == "ready")
        slow = psycopg.connect(console.dsn)
        try:
            # the slow transaction takes its id first and commits last
            slow.execute(
                "INSERT INTO audit_log (at, actor, action, tenant, alert_id)"
                " VALUES (now(), 'test', 'slow', 'acme', 'x')"
            )
            _audit(console.dsn, "globex", "other-tenant")
            _audit(console.dsn, "acme", "fast")
            got = stream.until(lambda e: e.event == "change" and e.data["action"] == "fast")
            for later in ("between-1", "between-2"):  # the feed has polled past the gap, twice
                _audit(console.dsn, "acme", later)
                got += stream.until(lambda e, later=later: e.event == "change" and e.data["action"] == later)
            slow.commit()
        finally:
            slow.close()
        got += stream.until(lambda e: e.event == "change" and e.data["action"] == "slow")
        _audit(console.dsn, "acme", "marker")
        got += stream.until(lambda e: e.event == "change" and e.data["action"] == "marker")
    changes = [(e.data["action"], int(e.id or 0)) for e in got if e.event == "change"]
    assert [a for a, _ in changes] == ["fast", "between-1", "between-2", "slow", "marker"]  # once each, no globex
    ids = dict(changes)
    assert ids["slow"] < ids["fast"] < ids["marker"]


def test_an_admin_stream_sees_every_tenant_and_can_narrow_to_one(console: Console) -> None:
    with (
        live_stream(console.url, console.admin) as every,
        live_stream(console.url, console.admin, "/api/v1/live?tenant=globex") as one,
    ):
        every.until(lambda e: e.event == "ready")
        one.until(lambda e: e.event == "ready")
        _audit(console.dsn, "acme", "a-side")
        _audit(console.dsn, "globex", "g-side")
        seen = every.until(lambda e: e.event == "change" and e.data["action"] == "g-side")
        narrowed = one.until(lambda e: e.event == "change" and e.data["action"] == "g-side")
    assert [e.data["tenant"] for e in seen if e.event == "change"] == ["acme", "globex"]
    assert [e.data["tenant"] for e in narrowed if e.event == "change"] == ["globex"]
    with live_stream(console.url, console.globex, "/api/v1/live?tenant=acme") as refused:
        assert refused.status == 404


def test_a_revoked_key_ends_its_stream(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RECHECK_KEY_SECONDS", 0.5)
    key = create_key(console.dsn, "acme", "revoked while streaming")
    with live_stream(console.url, key.key) as stream:
        stream.until(lambda e: e.event == "ready")
        assert revoke_key(console.dsn, key.key_id)
        got = stream.until(lambda e: e.event == "bye", within=20)
    assert got[-1].data == {"detail": "the API key was revoked"}


def test_an_open_stream_does_not_hold_up_the_servers_shutdown(stack: StackInfo) -> None:
    dsn = schema_dsn(stack.database_url)
    key = create_key(dsn, "acme", "shutdown").key
    server = ApiServer(dsn).__enter__()
    with live_stream(server.url, key) as stream:
        stream.until(lambda e: e.event == "ready")
        started = time.monotonic()
        stopper = threading.Thread(target=server.__exit__, args=(None, None, None))
        stopper.start()
        got = stream.until(lambda e: e.event == "bye", within=20)
        stopper.join(30)
        took = time.monotonic() - started
    assert got[-1].data == {"detail": "the server is stopping"}
    assert took < 5, f"shutdown took {took:.1f} s with a stream open (uvicorn waits 10 s for open responses)"


def test_the_page_and_its_assets_are_served_with_a_strict_policy(console: Console) -> None:
    page = httpx.get(f"{console.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/console/assets/js/main.js">' in page.text
    for path in ("/alerts/cs-acme-story", "/overview", "/silences", "/login"):
        assert httpx.get(f"{console.url}{path}").text == page.text, path
    js = httpx.get(f"{console.url}/console/assets/js/main.js")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    again = httpx.get(f"{console.url}/console/assets/js/main.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304
    for missing in ("/console/assets/nope.js", "/console/assets/../app.py", "/console/assets/index.html"):
        r = httpx.get(f"{console.url}{missing}")
        assert r.status_code == 404, missing
        assert r.headers["content-type"] == "application/problem+json"
    schema = httpx.get(f"{console.url}/openapi.json").json()["paths"]
    assert {"/api/v1/alert-groups", "/api/v1/alerts/{alert_id}/timeline", "/api/v1/stats/overview"} <= set(schema)
    assert not {"/", "/api/v1/live", "/alerts/{alert_id}"} & set(schema)
    assert console.get(console.acme, "/api/v1/me").json() == {
        "key_id": console.acme.split("_")[1],
        "scope": "tenant",
        "tenant": "acme",
    }
