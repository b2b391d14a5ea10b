"""Prometheus and amtool against alertstream, end to end, with every part real: a real Prometheus
(Debian's) evaluates a rule over a metric of this test's exporter and sends its alert to
`alertstream api` (`POST /api/v2/alerts`, bearer key); a real worker, deliver and store process
carry it to a webhook receiver and into the history; amtool 0.25 (Debian's) lists it from there.
The end-time timer resolves an alert sent without endsAt, across a worker restart."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from alertstream.api.keys import create_key
from alertstream.api.pipeline import Pipeline
from alertstream.api.server import ApiServer
from alertstream.local_stack import StackInfo
from alertstream.runtime.settings import Settings
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config
from tests.amtool import AMTOOL, query
from tests.integration.consumers.helpers import schema_dsn
from tests.integration.streams.worker_proc import WorkerProcess
from tests.polling import wait_until
from tests.prometheus_server import PROMETHEUS, PrometheusServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None or AMTOOL is None, reason="needs prometheus and amtool"),
]
RESOLVE_TIMEOUT_S = 15


class Exporter:
    """A tiny Prometheus exporter: ``/metrics`` serves ``alertstream_e2e_queue_depth`` = ``value``."""

    def __init__(self) -> None:
        self.value = 0.0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"# TYPE alertstream_e2e_queue_depth gauge\nalertstream_e2e_queue_depth {exporter.value}\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.target = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hooks:
    """The webhook receiver: every POST body (an alertstream Alert as JSON), by path."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, dict[str, Any]]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hooks.hits.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def of(self, path: str, **fields: str) -> list[dict[str, Any]]:
        return [a for p, a in list(self.hits) if p == path and all(a.get(k) == v for k, v in fields.items())]


@dataclass
class Stack:
    settings: Settings
    dsn: str
    api: str
    acme: str
    globex: str
    hooks: Hooks
    config: Path
    workers: list[WorkerProcess]
    logs: Path


def _child(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "alertstream", *args], env=env, stdout=out, stderr=out)


@pytest.fixture(scope="module")
def e2e(stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("am-e2e")
    hooks = Hooks()
    settings = Settings(
        kafka_bootstrap=stack.bootstrap,
        database_url=SecretStr(stack.database_url),
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        metrics_port=0,
    )
    config = tmp / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "external_alerts": {"resolve_timeout_seconds": RESOLVE_TIMEOUT_S},
                "receivers": [
                    {"name": "oncall", "channel": "webhook", "url": f"{hooks.url}/oncall", "allow_private": True},
                    {"name": "other", "channel": "webhook", "url": f"{hooks.url}/other", "allow_private": True},
                ],
                "routes": {
                    "receiver": "other",
                    "routes": [{"matchers": ['team="queues"', 'severity=~"crit.*"'], "receiver": "oncall"}],
                },
                "delivery": {"retry_delays_seconds": [0.5, 1.0, 2.0, 3.0]},
            }
        )
    )
    loaded = load_config(config)
    create_topics(stack.bootstrap, loaded, settings.topics)
    dsn = schema_dsn(stack.database_url)
    acme = create_key(dsn, "acme", "prometheus").key
    globex = create_key(dsn, "globex", "globex").key
    env = {
        **os.environ,
        "ALERTSTREAM_CONFIG": str(config),
        "ALERTSTREAM_KAFKA_BOOTSTRAP": stack.bootstrap,
        "ALERTSTREAM_DATABASE_URL": dsn,
        "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "ALERTSTREAM_METRICS_PORT": "0",
    }
    children = [
        _child(["deliver", "webhook"], env, tmp / "deliver.log"),
        _child(["store"], env, tmp / "store.log"),
    ]
    workers = [WorkerProcess(settings, config, log=tmp / "worker-1.log")]
    pipeline = Pipeline(settings.topics, Codec(), loaded, stack.bootstrap)
    try:
        with ApiServer(dsn, pipeline=pipeline) as api:
            yield Stack(settings, dsn, api.url, acme, globex, hooks, config, workers, tmp)
    finally:
        for w in workers:
            w.stop()
        for child in children:
            child.terminate()
            child.wait(30)
        hooks.server.shutdown()
        hooks.server.server_close()


def post(stack: Stack, key: str, alerts: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{stack.api}/api/v2/alerts", json=alerts, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def amtool(stack: Stack, key: str, *args: str) -> list[dict[str, Any]]:
    return query(stack.api, key, stack.logs, *args)


def test_a_prometheus_alert_is_delivered_listed_by_amtool_and_resolved(e2e: Stack) -> None:
    stack = e2e
    exporter = Exporter()
    exporter.value = 7
    rule = {
        "alert": "QueueBacklog",
        "expr": "alertstream_e2e_queue_depth > 5",
        "for": "0s",
        "labels": {"severity": "critical", "team": "queues"},
        "annotations": {"summary": "queue depth is {{ $value }}"},
    }
    alerting = {
        "alertmanagers": [
            {
                "api_version": "v2",
                "static_configs": [{"targets": [stack.api.removeprefix("http://")]}],
                "authorization": {"type": "Bearer", "credentials": stack.acme},
            }
        ]
    }
    # another tenant's alert in the history: amtool with acme's key must not list it
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    globex = [{"labels": {"alertname": "GlobexDown", "team": "queues"}, "endsAt": later}]
    assert post(stack, stack.globex, globex).status_code == 200
    with (
        contextlib.closing(exporter),
        PrometheusServer([exporter.target], rules=[rule], alerting=alerting, args=["--rules.alert.resend-delay=1s"]),
    ):
        fired = wait_until(lambda: stack.hooks.of("/oncall", rule_id="QueueBacklog", status="firing"), 90, "firing")
        alert = fired[0]
        assert alert["tenant"] == "acme"
        assert alert["severity"] == "critical"
        assert alert["labels"]["alertname"] == "QueueBacklog"
        assert alert["labels"]["team"] == "queues"
        assert alert["routes"] == [{"receiver": "oncall", "channel": "webhook"}]
        assert alert["details"]["annotations"] == {"summary": "queue depth is 7"}

        wait_until(lambda: stack.hooks.of("/other", rule_id="GlobexDown"), 60, "globex's alert delivered")
        listed = wait_until(lambda: amtool(stack, stack.acme), 60, "amtool lists the alert")
        assert [a["labels"]["alertname"] for a in listed] == ["QueueBacklog"]
        (only,) = listed
        assert only["fingerprint"] == alert["fingerprint"]
        assert only["receivers"] == [{"name": "oncall"}]
        assert only["status"]["state"] == "active"
        assert only["annotations"] == {"summary": "queue depth is 7"}
        assert only["labels"]["instance"] == exporter.target
        assert amtool(stack, stack.acme, "alertname=QueueBacklog", "team=~que.*") == listed
        assert amtool(stack, stack.acme, "alertname=GlobexDown") == []
        assert [a["labels"]["alertname"] for a in amtool(stack, stack.globex)] == ["GlobexDown"]

        exporter.value = 1  # below the threshold: Prometheus sends the alert resolved
        wait_until(lambda: stack.hooks.of("/oncall", rule_id="QueueBacklog", status="resolved"), 90, "resolved")
        wait_until(lambda: amtool(stack, stack.acme) == [], 60, "amtool lists nothing once it resolved")
    # a later marker on the same route: what Prometheus kept re-sending brought nothing more
    assert post(stack, stack.acme, [{"labels": {"alertname": "Marker", "team": "queues", "severity": "critical"}}])
    wait_until(lambda: stack.hooks.of("/oncall", rule_id="Marker"), 60, "the marker delivered")
    ours = [a["status"] for a in stack.hooks.of("/oncall") if a["fingerprint"] == alert["fingerprint"]]
    assert ours == ["firing", "resolved"]
    assert stack.hooks.of("/other", rule_id="QueueBacklog") == []


def test_an_alert_without_ends_at_resolves_by_its_end_time_across_a_worker_restart(e2e: Stack) -> None:
    stack = e2e
    sent = time.time()
    labels = {"alertname": "NoEndsAt", "team": "queues", "severity": "critical", "n": uuid.uuid4().hex[:6]}
    assert post(stack, stack.acme, [{"labels": labels, "annotations": {"summary": "sent once"}}]).status_code == 200
    fired = wait_until(lambda: stack.hooks.of("/oncall", rule_id="NoEndsAt", status="firing"), 90, "firing")
    fingerprint = fired[0]["fingerprint"]
    assert fired[0]["details"]["ends_at"] == pytest.approx((sent + RESOLVE_TIMEOUT_S) * 1000, abs=5000)
    # a new worker takes over the state (changelog recovery) before the end time passes
    old = stack.workers.pop()
    old.stop()
    assert stack.hooks.of("/oncall", rule_id="NoEndsAt", status="resolved") == [], "resolved before the restart"
    stack.workers.append(WorkerProcess(stack.settings, stack.config, log=stack.logs / "worker-2.log"))
    resolved = wait_until(lambda: stack.hooks.of("/oncall", rule_id="NoEndsAt", status="resolved"), 120, "resolved")
    assert resolved[0]["fingerprint"] == fingerprint
    assert resolved[0]["last_seen"] >= int((sent + RESOLVE_TIMEOUT_S) * 1000) - 1000
    assert resolved[0]["details"]["ended"] is True
    # nothing was sent about it after the first POST; the marker proves nothing more followed
    assert post(stack, stack.acme, [{"labels": {"alertname": "Marker2", "team": "queues", "severity": "critical"}}])
    wait_until(lambda: stack.hooks.of("/oncall", rule_id="Marker2"), 60, "the marker delivered")
    assert [a["status"] for a in stack.hooks.of("/oncall") if a["fingerprint"] == fingerprint] == ["firing", "resolved"]
