"""The demo sink of `alertstream dev`: the receivers of the example config, on loopback.

One HTTP server stands in for the webhook receiver (it verifies the Standard Webhooks signature
and answers 401 to a bad one, as a real receiver should), for Slack's incoming webhook and for
PagerDuty's Events API v2; one SMTP server takes the e-mail. It counts what arrives, so the dev
status line shows alerts reaching every channel.

Both listen on **free ports** chosen at start (so a second `dev`, or `dev` beside the tests, does
not collide). The example config names the sink by a placeholder address — HTTP
``127.0.0.1:9480``, SMTP ``127.0.0.1:1025`` — and :meth:`DemoSink.point_config` rewrites the
receivers that use it to the chosen ports (dev runs the pipeline on that derived config).
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from alertstream.consumers.signing import SigningSecret, verify
from alertstream.local_stack import free_port

#: The demo sink's placeholder address in the example config (replaced by the chosen ports).
PLACEHOLDER_HOST = "127.0.0.1"
PLACEHOLDER_HTTP_PORT = 9480
PLACEHOLDER_SMTP_PORT = 1025
WEBHOOK_PATH = "/hooks/alertstream"
SLACK_PATH = "/slack/demo"
PAGERDUTY_PATH = "/pagerduty/v2/enqueue"


@dataclass
class DemoSink:
    secrets: Sequence[SigningSecret]
    host: str = "127.0.0.1"
    #: 0 = a free port, chosen at start (the chosen one is then here)
    http_port: int = 0
    smtp_port: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None  # created by start()
        self._runner: web.AppRunner | None = None
        self._smtp: Any = None

    @property
    def slack_url(self) -> str:
        return f"http://{self.host}:{self.http_port}{SLACK_PATH}"

    def point_config(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy of a parsed config document whose receivers at the placeholder address (the
        example config's) point at this sink's ports instead; other receivers are left alone."""
        out = copy.deepcopy(data)
        for receiver in out.get("receivers") or []:
            url = receiver.get("url")
            if isinstance(url, str):
                parts = urlsplit(url)
                if (parts.hostname, parts.port) == (PLACEHOLDER_HOST, PLACEHOLDER_HTTP_PORT):
                    receiver["url"] = parts._replace(netloc=f"{self.host}:{self.http_port}").geturl()
            smtp = receiver.get("smtp")
            if isinstance(smtp, dict) and (smtp.get("host"), smtp.get("port")) == (
                PLACEHOLDER_HOST,
                PLACEHOLDER_SMTP_PORT,
            ):
                smtp["host"], smtp["port"] = self.host, self.smtp_port
        return out

    def start(self) -> None:
        self._loop = loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="demo-sink", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start_http(), loop).result(10)
        except OSError as exc:
            self.problems.append(f"http {self.host}:{self.http_port}: {exc.strerror}")
        self._start_smtp()

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._runner is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        if self._loop is not None:
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
        site = web.TCPSite(runner, self.host, self.http_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.http_port = sockets[0].getsockname()[1]

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

        # aiosmtpd's controller checks readiness by connecting to its port, so it cannot bind port 0:
        # take a free port, and another one if someone grabbed it in between
        fixed, error = self.smtp_port, ""
        for _attempt in range(1 if fixed else 5):
            port = fixed or free_port()
            controller = Controller(Handler(), hostname=self.host, port=port, ready_timeout=10)
            try:
                controller.start()
            except (OSError, RuntimeError) as exc:
                error = f"smtp {self.host}:{port}: {exc}"
                continue
            self.smtp_port, self._smtp = port, controller
            return
        self.problems.append(error)
