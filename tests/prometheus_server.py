"""A real Prometheus (Debian's package) scraping our processes, for end-to-end metric tests.

Scrapes every second; ``wait_for`` polls the HTTP query API until an expression has the wanted
value, so tests assert what an operator's Prometheus would actually store, not what a process
claims in its text exposition.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from alertstream.local_stack import die_with_parent, free_port

PROMETHEUS = shutil.which("prometheus")


class PrometheusServer:
    """``rule_files``: rules files to load, ``rules``: alerting rules (one group, written to a file),
    ``alerting``: Prometheus' ``alerting`` section (where it sends its alerts), ``args``: more
    command-line flags (e.g. a short resend delay)."""

    def __init__(
        self,
        targets: list[str],
        job: str = "alertstream",
        labels: dict[str, str] | None = None,
        *,
        rule_files: list[Path] | None = None,
        rules: list[dict[str, Any]] | None = None,
        alerting: dict[str, Any] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.targets = targets
        self.rule_files = rule_files or []  # evaluated every second, like the scrapes
        self.job = job
        self.labels = labels or {}  # target labels, e.g. the namespace a Kubernetes scrape would add
        self._alert_rules = rules or []
        self.alerting = alerting
        self.args = args or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="alertstream-prom-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusServer:
        assert PROMETHEUS is not None, "prometheus is not installed (make test installs it)"
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {"job_name": self.job, "static_configs": [{"targets": self.targets, "labels": self.labels}]}
            ],
        }
        if self._alert_rules:
            (self._dir / "rules.yml").write_text(json.dumps({"groups": [{"name": "test", "rules": self._alert_rules}]}))
            config["rule_files"].append(str(self._dir / "rules.yml"))
        if self.alerting:
            config["alerting"] = self.alerting
        (self._dir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self._proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self._dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self._wait_ready()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as response:
            return json.loads(response.read())

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("prometheus did not become ready")

    def query(self, expr: str) -> dict[str, float]:
        """Instant query: one entry per series, keyed by its labels (sorted ``k=v`` pairs)."""
        data = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        out = {}
        for series in data["data"]["result"]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(series["metric"].items()) if k not in {"job", "instance"})
            out[labels] = float(series["value"][1])
        return out

    def series(self, expr: str) -> list[tuple[dict[str, str], str]]:
        """Instant query: every series with all its labels and its value as Prometheus wrote it
        (``"NaN"``, ``"+Inf"`` stay visible)."""
        data = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert data["status"] == "success", data
        return [(s["metric"], s["value"][1]) for s in data["data"]["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query: ``[{"metric": labels, "values": [[t, "v"], ...]}, ...]``."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        data = self._get("/api/v1/query_range?" + urllib.parse.urlencode(params))
        assert data["status"] == "success", data
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def wait_for(self, expr: str, expected: dict[str, float], timeout: float = 30) -> dict[str, float]:
        """Poll until ``expr`` returns exactly ``expected``; returns the last answer either way."""
        deadline = time.monotonic() + timeout
        last: dict[str, float] = {}
        while time.monotonic() < deadline:
            last = self.query(expr)
            if last == expected:
                return last
            time.sleep(0.5)
        return last

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule as /api/v1/rules reports it (``name``, ``query``, ``health``, ``lastError``…)."""
        data = self._get("/api/v1/rules")
        return [rule for group in data["data"]["groups"] for rule in group["rules"]]

    def targets_up(self) -> dict[str, str]:
        data = self._get("/api/v1/targets")
        return {t["scrapeUrl"]: t["health"] for t in data["data"]["activeTargets"]}
