"""`POST /api/v1/backtest` of a real `alertstream api` over a history recorded on the real broker:
the job runs off the request path and reports exactly what the CLI reports; admin keys only; a bad
config is refused before a job exists, naming the document, the path and the problem. And the
console's backtest page in a real headless Chromium: the same job, its totals and its report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from alertstream.api.keys import create_key
from alertstream.runtime.settings import Settings
from tests.browser import browser_page, needs_chromium
from tests.integration.backtest.test_backtest import PublishedHistory, _recorded
from tests.integration.consumers.helpers import schema_dsn
from tests.integration.streams.lifecycle_stack import ApiProcess
from tests.integration.streams.worker_proc import write_config

pytestmark = pytest.mark.integration


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[tuple[ApiProcess, str]]:
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    process = ApiProcess(settings, write_config(tmp_path / "api.yaml", []), dsn, tmp_path / "api.log")
    try:
        yield process, dsn
    finally:
        process.stop()


def _wait_done(client: httpx.Client, location: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(location).json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"the backtest job did not finish in {timeout:.0f} s: {job}"
        time.sleep(0.2)


def test_an_admin_backtest_job_reports_what_the_cli_reports_and_tenants_may_not_start_one(
    settings: Settings, tmp_path: Path, api: tuple[ApiProcess, str]
) -> None:
    process, dsn = api
    rec: PublishedHistory = _recorded(settings, tmp_path)
    admin, tenant = create_key(dsn, None, "backtests").key, create_key(dsn, "acme", "a tenant").key
    body = {
        "config": rec.proposed.read_text(),
        "baseline": rec.base.read_text(),
        "from": _iso(rec.first - 1000),
        "to": _iso(rec.last + 1000),
    }
    with process.client(tenant) as client:
        refused = client.post("/api/v1/backtest", json=body)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    with process.client(admin) as client:
        bad = client.post("/api/v1/backtest", json={**body, "config": "rules:\n  - id: cpu\n    metric: 5\n"})
        assert bad.status_code == 422
        assert bad.json()["detail"] == "config: rules[0].metric: Input should be a valid string"
        bad = client.post("/api/v1/backtest", json={**body, "silences": ['entity="c1"', "garbage"]})
        assert bad.status_code == 422
        assert bad.json()["detail"].startswith("silences[1]: 'garbage' is not a matcher")

        started = client.post("/api/v1/backtest", json=body)
        assert started.status_code == 202, started.text
        assert started.json()["state"] in ("queued", "running")
        job = _wait_done(client, started.headers["Location"])
        assert job["state"] == "done", job["error"]
        report = job["report"]
        by_rule = {r: (row["baseline"]["fired"], row["proposed"]["fired"]) for r, row in report["by_rule"].items()}
        assert by_rule == {"cpu": (3, 2), "mem": (1, 0), "lat": (1, 10)}  # as the CLI's report
        assert report["totals"]["baseline"]["fired"] == 5
        assert report["totals"]["proposed"]["fired"] == 12
        # the same with a silence tried (as `--silence` in the CLI's test)
        with_silence = client.post("/api/v1/backtest", json={**body, "silences": ['entity="c95"']})
        assert with_silence.status_code == 202, with_silence.text
        tried = _wait_done(client, with_silence.headers["Location"])
        assert tried["state"] == "done", tried["error"]
        assert tried["window"]["silences"] == ['entity="c95"']
        cpu = tried["report"]["by_rule"]["cpu"]["proposed"]
        assert cpu == {"fired": 1, "resolved": 1, "suppressed": {"silenced": 1}}
        html = client.get(f"{started.headers['Location']}/report.html")
        assert html.status_code == 200
        assert "<svg" in html.text
        assert html.headers["content-security-policy"].startswith("sandbox;")
        listed = {j["job_id"] for j in client.get("/api/v1/backtest").json()}
        assert listed == {job["job_id"], tried["job_id"]}  # the refused requests made no job
    with psycopg.connect(dsn) as conn:
        audited = conn.execute("SELECT actor, action FROM audit_log WHERE action LIKE 'backtest%'").fetchall()
    assert len(audited) == 2
    assert all(actor.startswith("api-key:") and action == "backtest_requested" for actor, action in audited)


@needs_chromium
def test_the_console_backtest_page_runs_a_job_and_shows_its_report(
    settings: Settings, tmp_path: Path, api: tuple[ApiProcess, str]
) -> None:
    process, dsn = api
    rec = _recorded(settings, tmp_path)  # about an hour ago: inside "last 6h"
    admin = create_key(dsn, None, "console backtests").key
    with browser_page() as bp:
        page = bp.page
        page.goto(f"{process.url}/")
        page.fill("#key", admin)
        page.click("button[type=submit]")
        page.locator("main").wait_for(timeout=30_000)
        page.goto(f"{process.url}/backtest")
        page.fill("#b-config", rec.proposed.read_text())
        page.fill("#b-baseline", rec.base.read_text())
        page.fill("#b-silences", 'entity="c95"\n')
        page.select_option("#b-since", "6h")
        page.click('[data-action="start-backtest"]')
        page.locator('[data-job-state="done"]').wait_for(timeout=120_000)
        totals = {
            k: page.locator(f'[data-total="{k}"] td').all_inner_texts() for k in ("fired", "resolved", "suppressed")
        }
        # the CLI's totals for the same history and silence (c95 held: one firing and its resolve fewer)
        assert totals["fired"] == ["fired", "5", "11", "+6"]
        frame = page.frame_locator("iframe.report")
        frame.locator("svg").first.wait_for(timeout=30_000)  # the HTML report and its chart, in the page
        assert bp.foreign == []
