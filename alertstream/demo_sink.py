"""The demo sink of `alertstream dev`: the receivers of the example config, on loopback.

One HTTP server (127.0.0.1:9480) stands in for the webhook receiver (it verifies the Standard
Webhooks signature and answers 401 to a bad one, as a real receiver should), for Slack's incoming
webhook and for PagerDuty's Events API v2; one SMTP server (127.0.0.1:1025) takes the e-mail.
It counts what arrives, so the dev status line shows alerts reaching every channel.

The ports are the example config's; when one is taken the sink says so and dev carries on
(deliveries to it then retry and end in the DLQ, which is also worth watching).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from alertstream.consumers.signing import SigningSecret, verify

HTTP_PORT = 9480
SMTP_PORT = 1025
WEBHOOK_PATH = "/hooks/alertstream"
SLACK_PATH = "/slack/demo"
PAGERDUTY_PATH = "/pagerduty/v2/enqueue"


@dataclass
class DemoSink:
    secrets: Sequence[SigningSecret]
    host: str = "127.0.0.1"
    http_port: int = HTTP_PORT
    smtp_port: int = SMTP_PORT
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-sink", daemon=True)
        self._runner: web.AppRunner | None = None
        self._smtp: Any = None

    @property
    def slack_url(self) -> str:
        return f"http://{self.host}:{self.http_port}{SLACK_PATH}"

    def start(self) -> None:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start_http(), self._loop).result(10)
        except OSError as exc:
            self.problems.append(f"http {self.host}:{self.http_port}: {exc.strerror}")
        self._start_smtp()

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def summary(self) -> str:
        c = self.counts
        text = (
            f"webhook={c['webhook']} (+{c['webhook_bad_signature']} refused: bad signature) "
            f"slack={c['slack']} pagerduty={c['pagerduty']} email={c['email']}"
        )
        return text + (f"  NOT LISTENING: {'; '.join(self.problems)}" if self.problems else "")

    # -- HTTP -------------------------------------------------------------------------------------

    async def _start_http(self) -> None:
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.router.add_post(SLACK_PATH, self._slack)
        app.router.add_post(PAGERDUTY_PATH, self._pagerduty)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.http_port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        h = request.headers
        ok = verify(
            self.secrets,
            h.get("webhook-id", ""),
            h.get("webhook-timestamp", ""),
            h.get("webhook-signature", ""),
            body,
            now=time.time(),
        )
        if not ok:
            self.counts["webhook_bad_signature"] += 1
            return web.json_response({"error": "bad signature"}, status=401)
        self.counts["webhook"] += 1
        return web.Response(status=204)

    async def _slack(self, request: web.Request) -> web.Response:
        await request.read()
        self.counts["slack"] += 1
        return web.Response(text="ok")

    async def _pagerduty(self, request: web.Request) -> web.Response:
        try:
            event = json.loads(await request.read())
        except ValueError:
            return web.json_response({"status": "invalid event", "message": "not JSON"}, status=400)
        self.counts["pagerduty"] += 1
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key")}, status=202
        )

    # -- SMTP -------------------------------------------------------------------------------------

    def _start_smtp(self) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            self.problems.append("smtp: aiosmtpd is not installed (pip install -e '.[local]')")
            return

        sink = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
                sink.counts["email"] += 1
                return "250 OK"

        controller = Controller(Handler(), hostname=self.host, port=self.smtp_port, ready_timeout=10)
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            self.problems.append(f"smtp {self.host}:{self.smtp_port}: {exc}")
            return
        self._smtp = controller
