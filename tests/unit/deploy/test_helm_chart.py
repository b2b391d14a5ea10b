"""The Helm chart renders what an operator expects: one Deployment per process, hooks, no secrets inline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertstream.schemas.config import parse_config

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "alertstream"
HELM = shutil.which("helm", path=str(Path(sys.executable).parent)) or shutil.which("helm")

pytestmark = pytest.mark.skipif(HELM is None, reason="needs the helm binary: `make test` installs it into .venv/bin")

CONTRACT_METRICS = [
    "alertstream_events_consumed_total",
    "alertstream_events_invalid_total",
    "alertstream_alerts_emitted_total",
    "alertstream_alerts_suppressed_total",
    "alertstream_event_to_alert_seconds",
    "alertstream_notifications_total",
    "alertstream_notification_latency_seconds",
    "alertstream_retries_total",
    "alertstream_dlq_messages_total",
    "alertstream_build_info",
]


def _render(*sets: str) -> list[dict[str, Any]]:
    assert HELM is not None
    args = [HELM, "template", "rel", str(CHART)]
    for s in sets:
        args += ["--set", s]
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_lint_is_clean() -> None:
    assert HELM is not None
    done = subprocess.run([HELM, "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_deployment_per_process_with_its_args_and_port() -> None:
    deployments = _by_kind(_render(), "Deployment")
    expected = {
        "rel-alertstream-worker": (["worker"], 9401),
        "rel-alertstream-deliver-webhook": (["deliver", "webhook"], 9402),
        "rel-alertstream-deliver-slack": (["deliver", "slack"], 9403),
        "rel-alertstream-deliver-pagerduty": (["deliver", "pagerduty"], 9404),
        "rel-alertstream-deliver-email": (["deliver", "email"], 9405),
        "rel-alertstream-store": (["store"], 9406),
    }
    assert set(deployments) == set(expected)
    for name, (args, port) in expected.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["args"] == args
        assert container["ports"] == [{"name": "metrics", "containerPort": port}]
        env = {e["name"]: e for e in container["env"]}
        assert env["ALERTSTREAM_METRICS_PORT"]["value"] == str(port)
        assert env["ALERTSTREAM_KAFKA_BOOTSTRAP"]["value"] == "kafka:9092"
        # the database URL is a secret reference, never a literal in the manifest
        assert "value" not in env["ALERTSTREAM_DATABASE_URL"]
        assert env["ALERTSTREAM_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "alertstream-database",
            "key": "url",
        }
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_disabled_channel_and_replicas() -> None:
    deployments = _by_kind(_render("deliver.channels.email.enabled=false", "worker.replicas=5"), "Deployment")
    assert "rel-alertstream-deliver-email" not in deployments
    assert len(deployments) == 5
    assert deployments["rel-alertstream-worker"]["spec"]["replicas"] == 5


def test_hooks_migrate_and_create_topics_first() -> None:
    jobs = _by_kind(_render(), "Job")
    assert set(jobs) == {"rel-alertstream-migrate", "rel-alertstream-topics"}
    assert jobs["rel-alertstream-migrate"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "migrate"]
    assert jobs["rel-alertstream-topics"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["topics", "create"]
    for job in jobs.values():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_config_and_dashboard() -> None:
    maps = _by_kind(_render(), "ConfigMap")
    config = yaml.safe_load(maps["rel-alertstream-config"]["data"]["config.yaml"])
    assert config["topics"] == {"partitions": 12, "replication": 3}
    parse_config(config, "values.yaml:config")  # the shipped default is a valid alertstream config
    dashboard = json.loads(maps["rel-alertstream-dashboard"]["data"]["alertstream.json"])
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    missing = [m for m in CONTRACT_METRICS if m not in exprs]
    assert missing == []


def test_podmonitor_only_when_enabled() -> None:
    assert _by_kind(_render(), "PodMonitor") == {}
    (monitor,) = _by_kind(_render("podMonitor.enabled=true"), "PodMonitor").values()
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "metrics", "interval": "15s"}]
