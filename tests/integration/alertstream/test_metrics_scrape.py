"""A real Prometheus scrapes an alertstream process's /metrics and stores the contract's names."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from alertstream import __version__
from alertstream.local_stack import free_port
from tests.prometheus_server import PROMETHEUS, PrometheusServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason="needs Debian's prometheus (make test installs it as root)"),
]

_PROCESS = """
import sys, time
from alertstream.runtime import metrics
metrics.serve("test", int(sys.argv[1]))
metrics.EVENTS_INVALID.labels(reason="truncated").inc(3)
print("up", flush=True)
time.sleep(120)
"""


def test_prometheus_scrapes_contract_metrics() -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-c", _PROCESS, str(port)], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "up"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
            assert "# TYPE alertstream_events_invalid_total counter" in text
            assert "# TYPE alertstream_event_to_alert_seconds histogram" in text
            build = f"__name__=alertstream_build_info,version={__version__}"
            invalid = "__name__=alertstream_events_invalid_total,reason=truncated"
            with PrometheusServer([f"127.0.0.1:{port}"]) as prom:
                assert prom.wait_for("alertstream_build_info", {build: 1.0}) == {build: 1.0}
                assert prom.wait_for("alertstream_events_invalid_total", {invalid: 3.0}) == {invalid: 3.0}
                assert set(prom.targets_up().values()) == {"up"}
        finally:
            proc.terminate()
            proc.wait(10)
