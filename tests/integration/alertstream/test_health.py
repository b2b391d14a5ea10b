"""/healthz and /readyz of every pipeline process, on its metrics port, as a kubelet probes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from alertstream.local_stack import free_port
from alertstream.runtime.settings import Settings
from alertstream.schemas.config import EXAMPLE_CONFIG
from tests.integration.consumers.helpers import schema_dsn
from tests.probes import probe

pytestmark = pytest.mark.integration


def wait_answer(port: int, path: str, proc: subprocess.Popen[bytes], log: Path, within: float = 60) -> tuple[int, str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        got = probe(port, path)
        if got is not None:
            return got
        time.sleep(0.05)
    raise AssertionError(f"nothing answered {path} on {port}: {log.read_text()[-3000:]}")


def wait_status(port: int, path: str, status: int, proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    got: tuple[int, str] | None = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        got = probe(port, path)
        if got is not None and got[0] == status:
            body: dict[str, Any] = json.loads(got[1])
            return body
        time.sleep(0.2)
    raise AssertionError(f"{path} on {port} never answered {status}; last {got}; log {log.read_text()[-3000:]}")


def test_every_process_answers_healthz_and_readyz_on_its_metrics_port(settings: Settings, tmp_path: Path) -> None:
    assert settings.kafka_bootstrap is not None
    assert settings.database_url is not None
    base = {
        **os.environ,
        "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ALERTSTREAM_DATABASE_URL": schema_dsn(settings.database_url.get_secret_value()),
        "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "ALERTSTREAM_CONFIG": str(EXAMPLE_CONFIG),
    }
    commands = {"worker": ["worker"], "deliver": ["deliver", "webhook"], "store": ["store"]}
    procs: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}
    try:
        for name, args in commands.items():
            port, log = free_port(), tmp_path / f"{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "alertstream", *args],
                    env={**base, "ALERTSTREAM_METRICS_PORT": str(port)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs[name] = (proc, port, log)
        for name, (proc, port, log) in procs.items():
            # the probe port answers before the consumer has joined its group: not ready yet
            status, text = wait_answer(port, "/readyz", proc, log)
            assert status == 503, f"{name}: {status} {text[:200]}"
            before = json.loads(text)
            assert before["status"] == "not_ready"
            assert "partitions" in before["failing"], (name, before)
        for name, (proc, port, log) in procs.items():
            ready = wait_status(port, "/readyz", 200, proc, log)
            assert ready["status"] == "ready", (name, ready)
            assert ready["checks"]["partitions"]["ok"] is True
            if name != "worker":  # librdkafka reports its broker connections; aiokafka does not
                assert ready["checks"]["broker"]["ok"] is True, (name, ready)
                assert ready["checks"]["database"]["ok"] is True, (name, ready)
            alive = wait_status(port, "/healthz", 200, proc, log)
            assert alive["status"] == "alive"
            assert alive["checks"]["loop"]["ok"] is True
            metrics = probe(port, "/metrics")
            assert metrics is not None
            assert metrics[0] == 200
            assert "alertstream_build_info" in metrics[1], "/metrics is still served on the same port"
    finally:
        for proc, _, _ in procs.values():
            proc.terminate()
        for name, (proc, _, log) in procs.items():
            try:
                assert proc.wait(30) == 0, f"{name}: {log.read_text()[-3000:]}"
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
