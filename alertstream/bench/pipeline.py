"""The pipeline processes the e2e bench runs: real `alertstream worker` / `deliver` subprocesses.

Each process gets the bench's topic prefix, config file, database schema, a free metrics port and
a log file; :meth:`Pipeline.pids` names them for CPU and memory sampling (:mod:`.procstat`).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alertstream.local_stack import free_port

SECRET_ENV = "ALERTSTREAM_BENCH_WEBHOOK_SECRET"  # noqa: S105 - the name of the variable
PROBE_METRIC = "e2e_probe"


def e2e_config(sink_url: str, version: int = 1) -> dict[str, Any]:
    """One rule that fires on every probe event (one fingerprint per source), one webhook receiver."""
    return {
        "version": version,
        "rules": [{"id": "e2e", "metric": PROBE_METRIC, "operator": ">", "warning": 0}],
        "routes": {"receiver": "sink"},
        "receivers": [
            {"name": "sink", "channel": "webhook", "url": sink_url, "allow_private": True, "secret_env": [SECRET_ENV]}
        ],
    }


@dataclass
class Pipeline:
    bootstrap: str
    database_url: str
    prefix: str
    config: dict[str, Any]
    workers: int = 1
    delivers: int = 1
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="alertstream-e2e-"))
        self.config_file = self.dir / "config.yaml"
        self.config_file.write_text(yaml.safe_dump(self.config))
        self.env = {
            **os.environ,
            "ALERTSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "ALERTSTREAM_DATABASE_URL": self.database_url,
            "ALERTSTREAM_TOPIC_PREFIX": self.prefix,
            "ALERTSTREAM_CONFIG": str(self.config_file),
            SECRET_ENV: "whsec_" + base64.b64encode(os.urandom(24)).decode(),
        }

    def start_process(self, name: str, args: list[str]) -> None:
        """Start `alertstream ARGS` as process ``name`` (its own metrics port and log file)."""
        port = free_port()
        log = (self.dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "alertstream", *args],
            env={**self.env, "ALERTSTREAM_METRICS_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.dir,  # the worker's Faust data directory goes there, not into the caller's directory
        )
        log.close()
        self.ports[name] = port

    def start(self) -> None:
        for i in range(self.workers):
            self.start_process(f"worker-{i}", ["worker"])
        for i in range(self.delivers):
            self.start_process(f"deliver-{i}", ["deliver", "webhook"])

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}: {tail}")

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
