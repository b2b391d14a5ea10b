"""Silences end to end (issue 13): one created through `POST /api/v1/silences` and one through a real
`amtool silence add` against a real `alertstream api` process reach a real worker within 2 s, hold
the matching alerts (recorded as suppressed, naming the silence), leave the others alone, and their
expiry (API `DELETE`, `amtool silence expire`) lets the still-firing alerts through at once."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertstream.api.keys import create_key
from alertstream.runtime.settings import Settings
from alertstream.schemas.events import MetricEvent
from tests.integration.consumers.helpers import schema_dsn
from tests.integration.streams.lifecycle_stack import ApiProcess, alerts_until, briefs, suppression
from tests.integration.streams.worker_proc import WorkerProcess, publish, settled_alerts, start_worker, warm_up
from tests.integration.streams.worker_proc import write_config as worker_config

pytestmark = pytest.mark.integration

RULE = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "critical": 90, "clear": 60}
CONFIG: dict[str, Any] = {
    "receivers": [{"name": "hook", "channel": "webhook", "url": "https://hooks.example.com/a"}],
    "routes": {"receiver": "hook"},
}


@pytest.fixture
def api_and_worker(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> Iterator[tuple[ApiProcess, WorkerProcess, str]]:
    config = worker_config(tmp_path / "lifecycle.yaml", [RULE], **CONFIG)
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    worker = start_worker(workers, settings, config)
    api = ApiProcess(settings, config, dsn, tmp_path / "api.log")
    try:
        key = create_key(dsn, "acme", "lifecycle test").key
        yield api, worker, key
    finally:
        api.stop()


def _amtool(api: ApiProcess, http_config: Path, *args: str) -> str:
    done = subprocess.run(
        ["amtool", f"--alertmanager.url={api.url}", f"--http.config.file={http_config}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"amtool {args}: {done.stderr}"
    return done.stdout


def _wait_view(worker: WorkerProcess, silences: int, timeout: float = 30) -> float:
    """Seconds until the worker's silences view holds ``silences`` entries."""
    start = time.monotonic()
    while worker.metric("alertstream_lifecycle_view", view="silences") != silences:
        assert time.monotonic() - start < timeout, f"the worker's silences view never reached {silences}"
        time.sleep(0.05)
    return time.monotonic() - start


def _fire(settings: Settings, *entities: str) -> None:
    now = int(time.time() * 1000)
    publish(
        settings,
        [MetricEvent(f"{e}-{now}", "acme", "cpu_percent", 95.0, e, now) for e in entities],
    )


def test_api_and_amtool_silences_hold_matching_alerts_and_their_expiry_releases_them(
    settings: Settings, tmp_path: Path, api_and_worker: tuple[ApiProcess, WorkerProcess, str]
) -> None:
    api, worker, key = api_and_worker
    warm_up(settings, worker)
    http_config = tmp_path / "amtool-http.yaml"
    http_config.write_text(json.dumps({"authorization": {"credentials": key}}))

    with api.client(key) as client:
        created = client.post(
            "/api/v1/silences",
            json={"matchers": ['entity="db-1"', 'alertname=~"cp.*"'], "duration_seconds": 3600, "comment": "maint"},
        )
        assert created.status_code == 201, created.text
        api_silence = created.json()
        assert api_silence["state"] == "active"
        assert 'tenant="acme"' in api_silence["matchers"]  # the tenant key's scope, added
        api_latency = _wait_view(worker, 1)
        am_id = _amtool(
            api, http_config, "silence", "add", "entity=db-3", "--comment=disk swap", "--duration=1h", "-a", "alice"
        ).strip()
        am_latency = _wait_view(worker, 2)
        assert api_latency < 2.0, api_latency
        assert am_latency < 2.0, am_latency

        queried = json.loads(_amtool(api, http_config, "silence", "query", "-o", "json"))
        assert sorted(s["id"] for s in queried) == sorted([api_silence["id"], am_id])
        am = next(s for s in queried if s["id"] == am_id)
        assert am["status"]["state"] == "active"
        assert am["comment"] == "disk swap"
        assert {(m["name"], m["value"], m["isRegex"]) for m in am["matchers"]} == {
            ("entity", "db-3", False),
            ("tenant", "acme", False),
        }

        _fire(settings, "db-1", "db-2", "db-3")
        held = settled_alerts(settings, worker)
        assert briefs(held, "db-1") == [("firing", "suppressed", "silenced")]
        assert briefs(held, "db-2") == [("firing", "notify", "new")]  # matches neither silence
        assert briefs(held, "db-3") == [("firing", "suppressed", "silenced")]
        assert len(held) == 3
        by_entity = {a["entity"]: a for a in held}
        assert suppression(by_entity["db-1"]) == {"reason": "silenced", "silence_id": api_silence["id"]}
        assert suppression(by_entity["db-3"]) == {"reason": "silenced", "silence_id": am_id}
        assert by_entity["db-1"]["routes"] == []
        assert by_entity["db-3"]["routes"] == []

        # both expire: the still-firing alerts go out without a new event (and without a restart)
        expired_at = time.time()
        gone = client.delete(f"/api/v1/silences/{api_silence['id']}")
        assert gone.status_code == 200, gone.text
        assert gone.json()["state"] == "expired"
        _amtool(api, http_config, "silence", "expire", am_id)
        assert json.loads(_amtool(api, http_config, "silence", "query", "-o", "json")) == []

    def both_released(alerts: list[dict[str, Any]]) -> bool:
        return {a["entity"] for a in alerts if a["event"] == "notify" and a["entity"] != "db-2"} == {"db-1", "db-3"}

    alerts_until(settings, both_released, timeout=30)
    after = settled_alerts(settings, worker)
    assert briefs(after, "db-1") == [("firing", "suppressed", "silenced"), ("firing", "notify", "released")]
    assert briefs(after, "db-2") == [("firing", "notify", "new")]
    assert briefs(after, "db-3") == [("firing", "suppressed", "silenced"), ("firing", "notify", "released")]
    assert len(after) == 5
    for entity in ("db-1", "db-3"):
        out = next(a for a in after if a["entity"] == entity and a["event"] == "notify")
        assert [r["receiver"] for r in out["routes"]] == ["hook"]
        assert out["emitted_at"] / 1000 - expired_at < 3.0  # released by the next tick (1 s), not by an event
