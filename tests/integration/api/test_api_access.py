"""Who may read what, and what bad input gets: auth, tenant isolation, problem bodies, limits,
the operational endpoints and docs that load nothing from outside."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import httpx
import pytest

from alertstream.api.keys import create_key, revoke_key
from alertstream.api.server import ApiServer
from tests.integration.api.conftest import Api
from tests.integration.consumers.helpers import schema_dsn

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM, r.headers
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail"}, body
    assert body["status"] == status
    return dict(body)


def test_every_api_request_needs_a_valid_key(api: Api) -> None:
    revoked = create_key(api.dsn, "acme", "revoked before use")
    assert revoke_key(api.dsn, revoked.key_id)
    well_formed_unknown = "ask_" + "a" * 12 + "_" + "B" * 43
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": f"Bearer {well_formed_unknown}"},
        {"Authorization": f"Bearer {revoked.key}"},
        {"Authorization": f"Bearer {api.acme[:-1]}x"},  # right id, wrong secret
        {"X-API-Key": "ask_short"},
    ):
        r = httpx.get(f"{api.url}/api/v1/alerts", headers=headers)
        body = _problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "al-" not in r.text, body
    ok = httpx.get(f"{api.url}/api/v1/alerts?limit=1", headers={"X-API-Key": api.acme})
    assert ok.status_code == 200


def test_a_revoked_key_stops_working_within_the_cache_time(api: Api) -> None:
    key = create_key(api.dsn, "acme", "revoked in use")
    with api.client(key.key) as c:
        assert c.get("/api/v1/alerts?limit=1").status_code == 200
        assert revoke_key(api.dsn, key.key_id)
        deadline = time.monotonic() + 15
        while c.get("/api/v1/alerts?limit=1").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.25)
        _problem(c.get("/api/v1/alerts?limit=1"), 401)


def test_another_tenants_data_answers_404_on_every_endpoint_and_leaks_nothing(api: Api) -> None:
    acme_ids = {a["alert_id"] for a in api.history.of("acme")}
    detail = api.history.detail["alert_id"]
    with api.client(api.globex) as globex, api.client(api.admin) as admin:
        absent = _problem(globex.get("/api/v1/alerts/al-does-not-exist"), 404)
        for path in (
            f"/api/v1/alerts/{detail}",
            f"/api/v1/alerts/{detail}/explain",
            "/api/v1/alerts?tenant=acme",
            "/api/v1/deliveries?tenant=acme",
            "/api/v1/stats?tenant=acme",
        ):
            r = globex.get(path)
            body = _problem(r, 404)
            assert body["title"] == absent["title"]
            assert body["type"] == absent["type"]
            assert "acme" not in r.text, r.text
            assert detail not in r.text, r.text
            assert admin.get(path).status_code == 200, path  # it exists: the 404 is the tenant scope
        # filters that match acme's rows return nothing of them
        seen = globex.get("/api/v1/alerts", params={"fingerprint": "fp-acme-story"}).json()
        assert seen == {"items": [], "next_cursor": None}
        deliveries = globex.get("/api/v1/deliveries", params={"alert_id": detail}).json()
        assert deliveries == {"items": [], "next_cursor": None}
        listed = _all(globex, "/api/v1/alerts", {"limit": 500})
        assert {a["tenant"] for a in listed} == {"globex"}
        assert not acme_ids & {a["alert_id"] for a in listed}
        stats = globex.get("/api/v1/stats", params={"since": "2026-10-01T00:00:00Z"}).json()
        assert [c["key"] for c in stats["alerts"]["by_tenant"]] == ["globex"]
        assert stats["alerts"]["total"] == len(api.history.of("globex"))


def _all(client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        out += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/alerts?limit=0", 422),
        ("/api/v1/alerts?limit=501", 422),
        ("/api/v1/alerts?limit=ten", 422),
        ("/api/v1/alerts?severity=urgent", 422),
        ("/api/v1/alerts?status=open", 422),
        ("/api/v1/alerts?since=yesterday", 422),
        ("/api/v1/alerts?until=2026-13-45T00:00:00Z", 422),
        ("/api/v1/alerts?since=0001-01-01T00:00:00%2B14:00", 422),
        ("/api/v1/alerts?text=a%00b", 422),
        ("/api/v1/alerts?rule=%00", 422),
        ("/api/v1/alerts?tenant=", 422),
        ("/api/v1/alerts?cursor=not-a-cursor", 400),
        ("/api/v1/alerts?cursor=WyJkZWxpdmVyaWVzIiwxLCIxIl0", 400),  # a deliveries cursor
        ("/api/v1/deliveries?cursor=WyJhbGVydHMiLDEsImFsLTEiXQ", 400),  # an alerts cursor
        ("/api/v1/deliveries?channel=fax", 422),
        ("/api/v1/deliveries?outcome=lost", 422),
        ("/api/v1/stats?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", 422),
        ("/api/v1/stats?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", 422),
        ("/api/v1/alerts/" + "x" * 300, 422),
        ("/api/v1/nothing-here", 404),
    ],
)
def test_malformed_input_is_a_4xx_problem(api: Api, path: str, status: int) -> None:
    with api.client(api.admin) as c:
        body = _problem(c.get(path), status)
    assert body["detail"]


def test_unsupported_methods_and_sizes_are_problems(api: Api) -> None:
    with api.client(api.admin) as c:
        refused = c.post("/api/v1/alerts", json={})
        _problem(refused, 405)
        assert refused.headers["allow"] == "GET"
        # a path with a GET and a POST route names both (Starlette named the first route's only)
        both = c.delete("/api/v2/alerts")
        _problem(both, 405)
        assert both.headers["allow"] == "GET, POST"
        _problem(c.request("GET", "/api/v1/alerts", content=b"x" * 70_000), 413)
        _problem(c.get("/api/v1/alerts", params={"text": "y" * 10_000}), 414)


def test_the_rate_limit_per_key_answers_429_with_retry_after(api_dsn: str, api: Api) -> None:
    # 0.2 requests/s: a burst of 1, the next token 5 s later (no timing race on a loaded machine)
    with ApiServer(api_dsn, rate_limit=0.2) as limited:
        started = time.monotonic()
        first = httpx.get(f"{limited.url}/api/v1/alerts?limit=1", headers={"X-API-Key": api.acme})
        assert first.status_code == 200, first.text
        r = httpx.get(f"{limited.url}/api/v1/alerts?limit=1", headers={"X-API-Key": api.acme})
        elapsed = time.monotonic() - started
        body = _problem(r, 429)
        # the next token is 5 s after the first request: what is left of that, rounded up
        assert math.ceil(5 - elapsed) <= int(r.headers["retry-after"]) <= 5
        assert "rate limit" in body["detail"]
        # another key has its own bucket
        assert httpx.get(f"{limited.url}/api/v1/alerts?limit=1", headers={"X-API-Key": api.globex}).status_code == 200


def test_health_readiness_and_metrics(api: Api, stack: Any) -> None:
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{api.url}/readyz").json() == {"status": "ready"}
    with api.client(api.acme) as c:
        c.get("/api/v1/alerts?limit=1")
    text = httpx.get(f"{api.url}/metrics").text
    assert re.search(r'alertstream_api_requests_total\{method="GET",route="/api/v1/alerts",status="200"\} \d', text)
    assert "alertstream_api_request_duration_seconds_bucket" in text
    assert "alertstream_build_info" in text
    # a database without the migrations is not ready
    from psycopg import connect, sql

    empty = schema_dsn(stack.database_url)
    with connect(empty, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE api_keys"))
    with ApiServer(empty) as unready:
        body = _problem(httpx.get(f"{unready.url}/readyz"), 503)
        assert "migrate" in body["detail"]
        assert httpx.get(f"{unready.url}/healthz").status_code == 200


def test_the_docs_load_everything_from_the_api_itself(api: Api) -> None:
    page = httpx.get(f"{api.url}/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    assert "http://" not in page.text, "the page names no outside host"
    assert "https://" not in page.text, "the page names no outside host"
    assert '"validatorUrl": null' in page.text, "the validator badge would load from validator.swagger.io"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3, assets  # css, favicon, js
    for asset in assets:
        assert asset.startswith("/"), asset
        r = httpx.get(f"{api.url}{asset}")
        assert r.status_code == 200, asset
        assert len(r.content) > 100
    js = httpx.get(f"{api.url}/static-offline-docs/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in js
    assert re.search(r'"5\.\d+\.\d+"', js), "Swagger UI 5 (renders OpenAPI 3.1)"
    spec = httpx.get(f"{api.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/alerts/{alert_id}/explain"} <= set(spec["paths"])
    assert {"/api/v1/stats", "/api/v1/deliveries", "/healthz", "/readyz"} <= set(spec["paths"])
