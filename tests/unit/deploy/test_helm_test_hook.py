"""`helm test`: the test Pod's two steps, run here as the Pod would run them (the rendered args and script).

1. ``alertstream config validate`` on the installed config: passes for the chart's default config,
   fails for a broken one (so ``helm test`` reports a config the processes would refuse).
2. The /readyz check of every process's Service: passes when every URL answers 200 (also after a
   few 503s), fails naming the URL that never became ready.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.chart import by_kind, render

ALERTSTREAM = shutil.which("alertstream", path=str(Path(sys.executable).parent))


def _test_pod(values: dict[str, Any] | None = None) -> dict[str, Any]:
    docs = render(values)
    (pod,) = by_kind(docs, "Pod").values()
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    return pod


def _validate(config_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The init container's command with the mounted file at a local path."""
    values = None if config_text == "" else {"config": config_text}
    pod = _test_pod(values)
    (init,) = pod["spec"]["initContainers"]
    assert init["args"] == ["config", "validate", "/etc/alertstream/config.yaml"]
    config_map = by_kind(render(values), "ConfigMap")[pod["spec"]["volumes"][0]["configMap"]["name"]]
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    assert ALERTSTREAM is not None
    return subprocess.run(
        [ALERTSTREAM, *init["args"][:-1], str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_default_config_passes_validation(tmp_path: Path) -> None:
    done = _validate("", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ok (version 1, 4 rules, 4 receivers)" in done.stdout


def test_a_broken_config_fails_the_helm_test(tmp_path: Path) -> None:
    broken = "version: 1\nrules:\n  - {id: cpu-high, metric: cpu_percent, operator: '>>', warning: 70}\n"
    done = _validate(broken, tmp_path)
    assert done.returncode != 0
    assert "rules[0].operator: Input should be" in done.stderr


class _Health(BaseHTTPRequestHandler):
    """/readyz answering 503 for the first ``not_ready`` requests, then 200."""

    not_ready = 0

    def do_GET(self) -> None:
        if self.path != "/readyz":
            self.send_error(404)
            return
        server: Any = self.server
        ready = server.calls >= server.not_ready
        server.calls += 1
        body = b"ok" if ready else b'{"ready": false}'
        self.send_response(200 if ready else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(not_ready: int) -> str:
        server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
        server.not_ready, server.calls = not_ready, 0
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/readyz"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _run_readyz(pod: dict[str, Any], urls: list[str]) -> subprocess.CompletedProcess[str]:
    (container,) = pod["spec"]["containers"]
    assert container["command"][:2] == ["python", "-c"]
    return subprocess.run(
        [sys.executable, "-c", container["command"][2], *urls], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_readyz_check_names_every_process_service() -> None:
    (container,) = _test_pod()["spec"]["containers"]
    assert container["args"] == [
        f"http://rel-alertstream-{c}.alerting.svc:{p}/readyz"
        for c, p in [
            ("worker", 9401),
            ("deliver-email", 9405),
            ("deliver-pagerduty", 9404),
            ("deliver-slack", 9403),
            ("deliver-webhook", 9402),
            ("store", 9406),
            ("api", 9410),
        ]
    ]


def test_the_readyz_check_passes_when_all_are_ready_even_after_some_503s(health: Any) -> None:
    urls = [health(0), health(2)]
    done = _run_readyz(_test_pod(), urls)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted([*urls, "200", "200"])


def test_the_readyz_check_fails_naming_the_process_that_never_got_ready(health: Any) -> None:
    ready, never = health(0), health(10**6)
    done = _run_readyz(_test_pod({"tests": {"readyTimeoutSeconds": 1}}), [ready, never])
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"not ready: {never} (last: {never}: HTTP Error 503")
