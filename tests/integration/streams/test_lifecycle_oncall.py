"""On-call end to end (issue 13): an escalation step `notify_on_call` pages whoever the schedule has
on call when the step runs (here an override over a layer), and "who is on call now / at T" reads the
same from `GET /api/v1/schedules…` of a real `alertstream api` and from `alertstream oncall`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertstream.api.keys import create_key
from alertstream.runtime.settings import Settings
from alertstream.schemas.events import MetricEvent
from tests.integration.consumers.helpers import schema_dsn
from tests.integration.streams.lifecycle_stack import ApiProcess, alerts_until, briefs, reason
from tests.integration.streams.worker_proc import WorkerProcess, publish, settled_alerts, start_worker, warm_up
from tests.integration.streams.worker_proc import write_config as worker_config

pytestmark = pytest.mark.integration

RULE = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "critical": 90, "clear": 60}


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_notify_on_call_pages_the_override_and_the_api_and_cli_say_who_is_on_call(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    receivers = [
        {"name": name, "channel": "webhook", "url": f"https://hooks.example.com/{name}"}
        for name in ("hook", "alice-pager", "bob-pager", "carol-pager")
    ]
    schedule = {
        "name": "db-primary",
        "time_zone": "Europe/Berlin",
        "layers": [
            # one daily layer (alice); carol's override covers now
            {"name": "daily", "rotation": "daily", "start": "2026-01-01T09:00", "participants": ["alice-pager"]},
        ],
        "overrides": [
            {
                "start": _iso(now - timedelta(hours=1)),
                "end": _iso(now + timedelta(hours=1)),
                "participant": "carol-pager",
            }
        ],
    }
    config = worker_config(
        tmp_path / "oncall.yaml",
        [RULE],
        receivers=receivers,
        schedules=[schedule],
        escalation_policies=[{"name": "db", "steps": [{"notify_on_call": "db-primary"}]}],
        # the sentinels of settled_alerts() must not escalate (their pages would race its count):
        # a child route without the policy takes them (a node's policy is not inherited)
        routes={
            "receiver": "hook",
            "escalation_policy": "db",
            "routes": [{"match": {"rule": "sentinel"}, "receiver": "hook"}],
        },
    )
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    worker = start_worker(workers, settings, config)
    api = ApiProcess(settings, config, dsn, tmp_path / "api.log")
    try:
        key = create_key(dsn, "acme", "oncall test").key
        with api.client(key) as client:
            listed = client.get("/api/v1/schedules")
            assert listed.status_code == 200, listed.text
            assert [(s["name"], s["on_call_now"]["participant"]) for s in listed.json()] == [
                ("db-primary", "carol-pager")
            ]
            later = _iso(now + timedelta(hours=2))
            at_later = client.get("/api/v1/schedules/db-primary/oncall", params={"at": later})
            assert at_later.status_code == 200, at_later.text
            assert (at_later.json()["participant"], at_later.json()["source"]) == ("alice-pager", "layer:daily")
            assert client.get("/api/v1/schedules/nope/oncall").status_code == 404
    finally:
        api.stop()

    env = {**os.environ, "ALERTSTREAM_CONFIG": str(config)}
    cli = [sys.executable, "-m", "alertstream", "oncall", "db-primary"]
    answers = [
        json.loads(subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=True).stdout)
        for args in (cli, [*cli, "--at", later])
    ]
    assert [(a["participant"], a["source"]) for a in answers] == [
        ("carol-pager", "override"),
        ("alice-pager", "layer:daily"),
    ]

    warm_up(settings, worker)
    stamp = int(time.time() * 1000)
    publish(settings, [MetricEvent(f"db-1-{stamp}", "acme", "cpu_percent", 95.0, "db-1", stamp)])
    alerts_until(settings, lambda a: any(reason(x) == "escalation" for x in a))
    alerts = settled_alerts(settings, worker)
    assert briefs(alerts, "db-1") == [("firing", "notify", "new"), ("firing", "notify", "escalation")]
    page = alerts[1] if reason(alerts[1]) == "escalation" else alerts[0]
    assert [r["receiver"] for r in page["routes"]] == ["carol-pager"]
    assert json.loads(page["details"])["escalation"]["schedule"] == "db-primary"
