"""Helpers of the lifecycle integration tests: a real `alertstream api` process on the test's
broker topics and database schema, the alerts topic read until a condition holds, and short
summaries of the lifecycle records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from alertstream.local_stack import free_port
from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from tests.integration.streams.worker_proc import CODEC, read_until

Alert = dict[str, Any]


class ApiProcess:
    """`python -m alertstream api` on a free loopback port (migrates ``dsn``, follows the topics)."""

    def __init__(self, settings: Settings, config: Path, dsn: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.require_bootstrap(),
            "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "ALERTSTREAM_CONFIG": str(config),
            "ALERTSTREAM_DATABASE_URL": dsn,
            "ALERTSTREAM_API_HOST": "127.0.0.1",
            "ALERTSTREAM_API_PORT": str(self.port),
            "ALERTSTREAM_METRICS_PORT": "0",
        }
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alertstream", "api"], env=env, stdout=self._out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"api exited: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not answer /healthz in 60 s"
            time.sleep(0.2)

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def alerts_until(settings: Settings, done: Callable[[list[Alert]], bool], timeout: float = 90) -> list[Alert]:
    """Every alert on the alerts topic (sentinels left out), read until ``done(alerts)`` holds."""
    out: list[Alert] = []

    def check(records: list[Any]) -> bool:
        for r in records[len(out) + skipped[0] :]:
            alert = CODEC.decode(r.value, c.ALERT)
            if alert["rule_id"] == "sentinel":
                skipped[0] += 1
            else:
                out.append(alert)
        return done(out)

    skipped = [0]
    read_until(settings.require_bootstrap(), settings.topics.alerts, check, timeout)
    return out


def reason(alert: Alert) -> str:
    return str(json.loads(alert["details"] or "{}").get("reason", ""))


def brief(alert: Alert) -> tuple[str, str, str, str]:
    """(entity, status, event, details.reason) of one record."""
    return (alert["entity"], alert["status"], alert.get("event") or "notify", reason(alert))


def briefs(alerts: list[Alert], entity: str) -> list[tuple[str, str, str]]:
    """(status, event, reason) of ``entity``'s records in topic order."""
    return [brief(a)[1:] for a in alerts if a["entity"] == entity]


def suppression(alert: Alert) -> dict[str, str]:
    found: dict[str, str] = json.loads(alert["details"] or "{}").get("suppression") or {}
    return found


@dataclass(frozen=True)
class Hit:
    path: str
    body: dict[str, Any]
    at: float


class ThreadReceiver:
    """A loopback HTTP receiver on its own thread (the test's blocking calls never stall it):
    answers 202 and keeps every JSON body it was sent, per path."""

    def __init__(self) -> None:
        hits: list[Hit] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    hits.append(Hit(self.path, json.loads(body or b"{}"), time.time()))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._hits = hits
        self._lock = lock
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self._hits if h.path == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
