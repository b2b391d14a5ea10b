"""Explain, end to end: events → a real `alertstream worker` → `alerts` → the store → PostgreSQL →
`GET /api/v1/alerts/{id}/explain` names the rule version, the threshold, the triggering event ids
and the suppressions that preceded the alert."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from alertstream.api.keys import create_key
from alertstream.api.server import ApiServer
from alertstream.consumers.store import run_store
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from alertstream.schemas.events import MetricEvent
from tests.integration.consumers.helpers import schema_dsn
from tests.integration.streams.worker_proc import WorkerProcess, publish, read_alerts, warm_up, write_config

pytestmark = pytest.mark.integration

RULE = {
    "id": "cpu-explain",
    "description": "CPU saturation",
    "metric": "cpu_percent",
    "operator": ">",
    "warning": 70,
    "critical": 90,
    "clear": 60,
    "dedup_window_seconds": 600,
}


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    config = write_config(
        tmp_path / "explain.yaml",
        [RULE],
        version=4,
        receivers=[{"name": "ops-hook", "channel": "webhook", "url": "https://hooks.example.com/a"}],
        routes={"receiver": "ops-hook"},
    )
    w = WorkerProcess(settings, config)
    yield w
    w.stop()


def test_explain_names_the_rule_version_threshold_events_and_preceding_suppressions(
    settings: Settings, worker: WorkerProcess
) -> None:
    warm_up(settings, worker)
    # every event in one dedup window, inside the rules' lateness bound (1 h before the worker's now)
    start = int(time.time() * 1000) - 1_800_000
    start -= start % 600_000
    values = [75.0, 76.0, 77.0, 78.0, 95.0]  # warning fires; three repeats folded; critical escalates
    events = [MetricEvent(f"ex-{n}", "acme", "cpu_percent", v, "db-7", start + n * 1000) for n, v in enumerate(values)]
    publish(settings, events)
    alerts = read_alerts(settings, 2)
    assert [(a["severity"], a["suppressed_count"]) for a in alerts] == [("warning", 0), ("critical", 3)]
    first, escalated = alerts

    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    stop = threading.Event()
    store = threading.Thread(
        target=run_store, args=(settings.kafka_bootstrap or "", dsn, settings.topics, stop), kwargs={"codec": Codec()}
    )
    store.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT count(*) FROM alerts WHERE rule_id = 'cpu-explain'").fetchone()
            if row and row[0] == 2:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        store.join(30)
    key = create_key(dsn, "acme", "explain test").key
    with ApiServer(dsn) as server, httpx.Client(base_url=server.url, headers={"X-API-Key": key}) as c:
        r = c.get(f"/api/v1/alerts/{escalated['alert_id']}/explain")
        assert r.status_code == 200, r.text
        e = r.json()
        first_explained = c.get(f"/api/v1/alerts/{first['alert_id']}/explain").json()

    assert e["rule"] == {"id": "cpu-explain", "version": 4, "description": "CPU saturation", "operator": ">"}
    assert e["threshold"] == 90.0
    assert e["value"] == 95.0
    assert e["severity"] == "critical"
    assert e["trigger"]["event_ids"] == ["ex-0", "ex-1", "ex-2", "ex-3", "ex-4"]
    assert e["trigger"]["occurrence_count"] == 5
    assert e["suppressions"] == {"count": 3, "by_reason": {"dedup": 3}}  # the three repeats in its window
    decisions = {d["stage"]: d for d in e["decisions"]}
    assert decisions["dedup"]["outcome"] == "escalated"
    assert decisions["grouping"]["outcome"] == "folded"
    assert decisions["grouping"]["detail"].startswith("3 occurrences")
    assert decisions["rate_limit"]["outcome"] == "not_applied"
    assert decisions["routing"] == {"stage": "routing", "outcome": "routed", "detail": "routed to ops-hook (webhook)"}
    assert [p["alert_id"] for p in e["previous"]] == [first["alert_id"]]
    assert e["previous"][0]["reason"] == "new"

    assert first_explained["threshold"] == 70.0
    assert first_explained["trigger"]["event_ids"] == ["ex-0"]
    assert first_explained["suppressions"] == {"count": 0, "by_reason": {}}
    assert first_explained["previous"] == []
    assert {d["stage"]: d["outcome"] for d in first_explained["decisions"]}["dedup"] == "new"
