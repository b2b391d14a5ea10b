"""Render the chart with the real helm binary and walk what it produced (shared by the chart tests).

``make venv`` installs helm into ``.venv/bin`` (deploy/install_helm.py); without it the chart tests
fail with that instruction rather than skip, so a CI run cannot pass them by not running them.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "alertstream"
RELEASE = "rel"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NAMESPACE = "alerting"

#: Kinds whose objects carry a pod template, and where it sits.
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def helm() -> str:
    found = shutil.which("helm", path=str(Path(sys.executable).parent)) or shutil.which("helm")
    if found is None:
        raise AssertionError("the chart tests need the helm binary: `make venv` installs it into .venv/bin")
    return found


def run_helm(*args: str, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    """``helm ARGS [-f values.json]``; the values go through a file so types stay exact (no --set guessing)."""
    with tempfile.TemporaryDirectory() as tmp:
        extra: list[str] = []
        if values:
            path = Path(tmp) / "values.json"  # JSON is YAML: helm reads it as a values file
            path.write_text(json.dumps(values))
            extra = ["-f", str(path)]
        return subprocess.run([helm(), *args, *extra], capture_output=True, text=True, timeout=120, check=False)


@functools.cache
def _template(values_json: str, api_versions: tuple[str, ...]) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for api in api_versions:
        args += ["--api-versions", api]
    done = run_helm(*args, values=json.loads(values_json))
    assert done.returncode == 0, done.stderr
    return done.stdout


def render(values: dict[str, Any] | None = None, *, api_versions: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """``helm template`` of the chart as release ``rel`` in namespace ``alerting``; fails on a render error.

    The output of each distinct render is kept for the session (the chart does not change during a
    run); every call parses it afresh, so a test may change what it gets.
    """
    text = _template(json.dumps(values, sort_keys=True), api_versions)
    return [d for d in yaml.load_all(text, Loader=_LOADER) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_template(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template (metadata + spec) of a workload object, or None for other kinds."""
    path = POD_TEMPLATE_PATHS.get(doc["kind"])
    if path is None:
        return None
    node: Any = doc
    for key in path:
        node = node[key]
    return dict(node)


def containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container of a pod spec: init, regular and ephemeral."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod_spec.get(key) or []


def hook_events(doc: dict[str, Any]) -> set[str]:
    """The Helm hook events of an object (empty for an ordinary release object)."""
    annotations = doc.get("metadata", {}).get("annotations") or {}
    raw = annotations.get("helm.sh/hook", "")
    return {e.strip() for e in raw.split(",") if e.strip()}


def hook_weight(doc: dict[str, Any]) -> int:
    annotations = doc.get("metadata", {}).get("annotations") or {}
    return int(annotations.get("helm.sh/hook-weight", "0"))
