"""A 405 names every method of the path, also when two routes serve it (GET and POST /silences)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from alertstream.api.app import create_app


def test_a_405_allows_every_method_of_a_path_served_by_several_routes() -> None:
    client = TestClient(create_app("postgresql://schema-only.invalid/none"))
    for path, methods in [
        ("/api/v1/silences", "GET, POST"),
        ("/api/v1/silences/s-1", "DELETE, GET"),
        ("/api/v2/silences", "GET, POST"),
        ("/api/v1/alerts/ack", "POST"),
    ]:
        answer = client.options(path)
        assert answer.status_code == 405, path
        assert answer.headers["allow"] == methods, path
