"""The console in a real headless Chromium against the whole pipeline: events → a real `alertstream
worker` → the store → PostgreSQL → `alertstream api` (with its broker for the lifecycle writes) →
the page; deliveries by a real `alertstream deliver webhook` to a receiver on loopback.

One story, as a user lives it: sign in with a tenant key, see the list, a new alert appears without
a reload, open it, acknowledge it (its state and timeline change; the API has the ack), silence
"alerts like this" (a matching new alert is shown silenced and never reaches the receiver), and
another tenant's alert is never shown (its detail URL says not found). Every request the page made
stayed on the host. The screenshots in docs/ are taken here."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from alertstream.api.keys import create_key
from alertstream.api.lifecycle_bus import BusConfig
from alertstream.api.server import ApiServer
from alertstream.consumers.store import run_store
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config
from alertstream.schemas.events import MetricEvent
from tests.browser import BrowserPage, browser_page, needs_chromium
from tests.integration.consumers.helpers import schema_dsn
from tests.integration.streams.worker_proc import SENTINEL_METRIC, WorkerProcess, publish, warm_up, write_config
from tests.polling import wait_until

pytestmark = [pytest.mark.integration, needs_chromium]
#: The docs' pictures are rewritten only when asked (``ALERTSTREAM_WRITE_DOCS=1``): a test run leaves the tree clean.
DOCS = (
    Path(__file__).resolve().parents[3] / "docs"
    if os.environ.get("ALERTSTREAM_WRITE_DOCS") == "1"
    else Path(tempfile.mkdtemp(prefix="alertstream-console-shots-"))
)
RULE = {
    "id": "cpu-console",
    "description": "CPU saturation",
    "metric": "cpu_percent",
    "operator": ">",
    "warning": 80,
    "critical": 90,
    "clear": 60,
    "dedup_window_seconds": 600,
}

#: two receivers hand off every day at 09:00 UTC: whoever is on now hands off to the other next
SCHEDULE = {
    "name": "web-primary",
    "layers": [
        {
            "name": "daily",
            "rotation": "daily",
            "start": "2026-01-01T09:00:00",
            "participants": ["day-hook", "night-hook"],
        }
    ],
}

#: the page's form controls and buttons that have no accessible name (label, aria-label, text)
UNNAMED = """[...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
  .map(e => e.outerHTML.slice(0, 120))"""


class Hook(ThreadingHTTPServer):
    """A webhook receiver on loopback that keeps every body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                hook.bodies.append(self.rfile.read(size).decode("utf-8", "replace"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def delivered(self, entity: str) -> int:
        return sum(f'"{entity}"' in b for b in self.bodies)


class Pipeline:
    """The processes of one console test and what it needs to drive them."""

    def __init__(self, settings: Settings, dsn: str, worker: WorkerProcess, hook: Hook, url: str) -> None:
        self.settings, self.dsn, self.worker, self.hook, self.url = settings, dsn, worker, hook, url
        self.n = 0

    def fire(self, tenant: str, entity: str, value: float = 95.0, metric: str = "cpu_percent") -> None:
        self.n += 1
        publish(self.settings, [MetricEvent(f"c-{self.n}", tenant, metric, value, entity, int(time.time() * 1000))])

    def alerts(self, tenant: str, entity: str) -> list[dict[str, Any]]:
        with psycopg.connect(self.dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute(
                "SELECT alert_id, event, status, routes FROM alerts WHERE tenant = %s AND entity = %s"
                " ORDER BY last_seen, alert_id",
                (tenant, entity),
            ).fetchall()

    def stored(self, tenant: str, entity: str) -> dict[str, Any]:
        found = wait_until(lambda: self.alerts(tenant, entity), 60, f"an alert of {tenant}/{entity} in the history")
        return found[0]  # type: ignore[no-any-return]


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    hook = Hook()
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    config = write_config(
        tmp_path / "console.yaml",
        [RULE],
        receivers=[
            {"name": name, "channel": "webhook", "url": hook.url, "allow_private": True}
            for name in ("ops-hook", "day-hook", "night-hook")
        ],
        routes={"receiver": "ops-hook"},
        schedules=[SCHEDULE],
    )
    worker = WorkerProcess(settings, config)
    env = {
        **os.environ,
        "ALERTSTREAM_CONFIG": str(config),
        "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.require_bootstrap(),
        "ALERTSTREAM_DATABASE_URL": dsn,
        "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "ALERTSTREAM_METRICS_PORT": "0",
    }
    with (tmp_path / "deliver.log").open("wb") as log:
        deliver = subprocess.Popen(
            [sys.executable, "-m", "alertstream", "deliver", "webhook"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    stop = threading.Event()
    store = threading.Thread(
        target=run_store, args=(settings.require_bootstrap(), dsn, settings.topics, stop), kwargs={"codec": Codec()}
    )
    store.start()
    try:
        warm_up(settings, worker)
        bus = BusConfig(settings.require_bootstrap(), settings.topics, load_config(config))
        with ApiServer(dsn, bus=bus) as api:
            yield Pipeline(settings, dsn, worker, hook, api.url)
    finally:
        stop.set()
        store.join(30)
        deliver.terminate()
        deliver.wait(30)
        worker.stop()
        hook.shutdown()
        hook.server_close()  # the listening socket: left open, the GC warned in a later test


def _row(page: BrowserPage, alert_id: str) -> Any:
    return page.page.locator(f'tr[data-alert-id="{alert_id}"]')


def test_a_tenant_sees_acknowledges_and_silences_its_alerts_live_and_nothing_of_another_tenant(
    pipeline: Pipeline,
) -> None:
    run = uuid.uuid4().hex[:6]
    acme, globex = f"acme-{run}", f"globex-{run}"
    key = create_key(pipeline.dsn, acme, "console browser test").key
    key_id = httpx.get(f"{pipeline.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["key_id"]
    pipeline.fire(globex, "db-9")
    pipeline.fire(acme, "web-1")
    theirs = pipeline.stored(globex, "db-9")
    first = pipeline.stored(acme, "web-1")

    with browser_page() as bp:
        page = bp.page
        page.goto(f"{pipeline.url}/")
        page.fill("#key", key)
        page.click("button[type=submit]")
        _row(bp, first["alert_id"]).wait_for(timeout=30_000)
        page.evaluate("window.__sameDocument = true")
        assert _row(bp, theirs["alert_id"]).count() == 0

        # a new alert appears without a reload
        published = time.monotonic()
        pipeline.fire(acme, "web-2")
        new = pipeline.stored(acme, "web-2")
        stored = time.monotonic()
        _row(bp, new["alert_id"]).wait_for(timeout=30_000)
        shown = time.monotonic()
        assert page.evaluate("window.__sameDocument") is True
        print(f"new alert: published -> stored {stored - published:.2f} s, stored -> shown {shown - stored:.2f} s")
        assert shown - stored <= 2.0, f"shown {shown - stored:.2f} s after the history had it"
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / "console-alerts.png"))

        # open it, acknowledge it: its state and timeline change, the API has the ack
        _row(bp, new["alert_id"]).locator("a").first.click()
        page.locator('[data-alert][data-state="loaded"]').wait_for(timeout=30_000)
        assert page.evaluate("window.__sameDocument") is True
        page.click('[data-action="ack"]')
        page.locator("[data-ack]").wait_for(timeout=30_000)
        page.locator('.timeline li[data-kind="acknowledge"]').wait_for(timeout=30_000)
        assert page.locator('[data-action="ack"]').count() == 0
        assert page.locator('[data-action="unack"]').count() == 1
        trail = httpx.get(
            f"{pipeline.url}/api/v1/alerts/{new['alert_id']}/trail", headers={"Authorization": f"Bearer {key}"}
        ).json()
        acks = [(e["action"], e["actor"]) for e in trail["entries"] if e["action"].startswith("acknowledge")]
        assert acks[0] == ("acknowledge", f"api-key:{key_id}")
        page.screenshot(path=str(DOCS / "console-detail.png"), full_page=True)

        # silence alerts like this one, by rule only (the entity matcher switched off)
        page.click('[data-action="silence"]')
        dialog = page.locator("dialog[open]")
        dialog.locator('[data-matcher="entity"] input[type=checkbox]').uncheck()
        wait_until(lambda: dialog.locator("[data-preview]").get_attribute("data-matched") == "2", 30, "preview of 2")
        dialog.locator("textarea[name=comment]").fill("maintenance of the web tier")
        dialog.locator('[data-action="create-silence"]').click()
        dialog.locator(".success").wait_for(timeout=30_000)
        dialog.locator("button", has_text="Close").click()
        # the worker knows the silence before the matching event arrives
        wait_until(lambda: pipeline.worker.metric("alertstream_lifecycle_view", view="silences") >= 1, 60, "silence")
        pipeline.fire(acme, "web-3")
        held = pipeline.stored(acme, "web-3")
        assert (held["event"], held["routes"]) == ("suppressed", [])
        page.click('a[href="/"]')
        row = _row(bp, held["alert_id"])
        row.wait_for(timeout=30_000)
        assert row.locator('[data-event="silenced"]').count() == 1
        # a later unsilenced alert is delivered: by then the silenced one would have been too
        pipeline.fire(acme, "probe-1", metric=SENTINEL_METRIC, value=1.0)
        wait_until(lambda: pipeline.hook.delivered("probe-1") == 1, 60, "the sentinel delivered")
        assert {e: pipeline.hook.delivered(e) for e in ("web-1", "web-2", "web-3", "db-9")} == {
            "web-1": 1,
            "web-2": 2,  # fired, then acknowledged (webhooks are told of acknowledgements)
            "web-3": 0,
            "db-9": 1,
        }
        assert page.evaluate("window.__sameDocument") is True

        # another tenant's alert: never listed, and its detail URL answers not found
        listed = page.locator("tr[data-alert-id]").evaluate_all("rows => rows.map(r => r.dataset.alertId)")
        mine = {a["alert_id"] for e in ("web-1", "web-2", "web-3", "probe-1") for a in pipeline.alerts(acme, e)}
        assert set(listed) <= mine
        assert theirs["alert_id"] not in listed
        page.goto(f"{pipeline.url}/alerts/{theirs['alert_id']}")
        page.locator('[data-alert][data-state="not-found"]').wait_for(timeout=30_000)

        # on-call: who is on now and the next hand-offs, from the schedule the API was given
        page.click('a[href="/oncall"]')
        card = page.locator('[data-schedule="web-primary"]')
        card.wait_for(timeout=30_000)
        now_text, handoffs = card.locator("p").first.inner_text(), card.locator("ol li").all_inner_texts()
        on, off = ("day-hook", "night-hook") if "day-hook" in now_text else ("night-hook", "day-hook")
        assert now_text.startswith(f"Now: {on} until ")
        assert [off in t for t in handoffs] == [True, False, True, False, True]
        assert all("09:00" in t for t in handoffs), handoffs

        page.goto(f"{pipeline.url}/overview")
        page.locator('#overview[data-state="loaded"]').wait_for(timeout=30_000)
        page.screenshot(path=str(DOCS / "console-overview.png"), full_page=True)
        assert bp.foreign == []

    # a phone's width: nothing wider than the screen, and every control has a name
    with browser_page(width=390, height=844) as phone:
        phone.page.goto(f"{pipeline.url}/")
        phone.page.fill("#key", key)
        phone.page.click("button[type=submit]")
        _row(phone, first["alert_id"]).wait_for(timeout=30_000)
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
        assert phone.page.evaluate(UNNAMED) == []
        assert phone.foreign == []
