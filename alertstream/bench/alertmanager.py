"""The incumbent in the same run: Prometheus Alertmanager (Debian's package) into the same sink.

Configured as the issue's comparison was: one aggregation group per alert (``group_by: ['...']``),
``group_wait: 0s``, a webhook receiver on the bench sink (``/am``), no HA cluster, on loopback.
Alerts are POSTed to ``/api/v2/alerts`` (batches of 100 for the burst, one per request when paced)
with their send time in an annotation, so the sink measures POST -> webhook.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from alertstream.bench.cpu_pinning import Pinning
from alertstream.local_stack import free_port

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per POST would flood the report


def binary() -> str | None:
    return next((path for name in BINARY_NAMES if (path := shutil.which(name))), None)


class Alertmanager:
    def __init__(self, path: str, sink_url: str | None, pinning: Pinning | None = None) -> None:
        """``sink_url`` None: a receiver that notifies nowhere (the ingest bench measures intake only);
        ``pinning``: run on its server core only (``GOMAXPROCS=1``)."""
        self.dir = Path(tempfile.mkdtemp(prefix="alertstream-am-"))
        config = {
            "route": {
                "receiver": "sink",
                "group_by": ["..."],
                "group_wait": "0s",
                "group_interval": "5m",
                "repeat_interval": "12h",
            },
            "receivers": [
                {"name": "sink", "webhook_configs": [{"url": sink_url, "send_resolved": False}]}
                if sink_url
                else {"name": "sink"}
            ],
        }
        (self.dir / "am.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        log = (self.dir / "am.log").open("wb")
        self.proc = subprocess.Popen(
            [
                path,
                f"--config.file={self.dir / 'am.yml'}",
                f"--storage.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GOMAXPROCS": "1"} if pinning is not None else None,
            preexec_fn=pinning.preexec() if pinning is not None else None,
        )
        log.close()  # the child holds its own descriptor
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {(self.dir / 'am.log').read_text()[-1000:]}")
            time.sleep(0.1)
        raise RuntimeError("alertmanager did not become ready in 30 s")

    @staticmethod
    def alert(n: str, sent_ms: int) -> dict[str, Any]:
        starts = datetime.fromtimestamp(sent_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        return {
            "labels": {"alertname": "e2e", "n": n, "severity": "warning"},
            "annotations": {"sent_ms": str(sent_ms), "summary": "bench alert"},
            "startsAt": starts,
        }

    def post(self, alerts: list[dict[str, Any]]) -> None:
        response = self.client.post("/api/v2/alerts", json=alerts)
        if response.status_code != 200:
            raise RuntimeError(f"alertmanager answered {response.status_code}: {response.text[:200]}")

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
