"""Problem answers the route handlers never see: a body FastAPI cannot decode, and a method the
path does not have (the app without a database: both are answered before any query)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from alertstream.api.app import create_app

APP = create_app("postgresql://nobody.invalid/none")


def test_a_body_that_is_not_utf8_is_a_422_problem_on_every_route_with_a_body() -> None:
    client = TestClient(APP)
    for path in ("/api/v1/matchers/preview", "/api/v1/alerts/a1/ack", "/api/v1/silences", "/api/v1/backtest"):
        r = client.post(path, content=b"\xff\xfe{", headers={"Content-Type": "application/json"})
        assert (r.status_code, r.headers["content-type"]) == (422, "application/problem+json"), (path, r.text)
        assert r.json()["type"] == "urn:alertstream:problem:invalid-request"


def test_a_405_names_every_method_of_the_path() -> None:
    client = TestClient(APP)
    # /alerts/ack is also /alerts/{alert_id} (GET): the literal template names the path
    for path, allowed in (
        ("/api/v1/silences", "GET, POST"),
        ("/api/v1/backtest", "GET, POST"),
        ("/api/v1/alerts/ack", "POST"),
    ):
        r = client.put(path, json={})
        assert (r.status_code, r.headers["allow"]) == (405, allowed), path
