"""Every object the chart renders is valid for the Kubernetes API it targets, with no unknown field.

Built-in kinds go through kubernetes-validate's strict schemas (offline, shipped in the wheel) for
the oldest Kubernetes the chart supports (Chart.yaml ``kubeVersion``) and the newest the package
knows. The custom resources (PodMonitor, ServiceMonitor, PrometheusRule, ScaledObject) go through the models
generated from the Prometheus Operator's and KEDA's CRDs (cloudcoil): a field the model does not
know is dropped by it, so a render that does not survive validate-and-dump unchanged has one.
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject
from cloudcoil.models.prometheus_operator.v1 import PodMonitor, PrometheusRule, ServiceMonitor

from tests.unit.deploy.chart import CHART, render
from tests.unit.deploy.values_cases import ALL_OFF, ALL_ON

KEDA_API = "keda.sh/v1alpha1/ScaledObject"
CUSTOM_RESOURCES: dict[str, type[pydantic.BaseModel]] = {
    "PodMonitor": PodMonitor,
    "ServiceMonitor": ServiceMonitor,
    "PrometheusRule": PrometheusRule,
    "ScaledObject": ScaledObject,
}


def _oldest_supported() -> str:
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    match = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", constraint)
    assert match, constraint
    return f"{match.group(1)}.0"


VERSIONS = [_oldest_supported(), kubernetes_validate.latest_version()]
CASES: dict[str, tuple[dict[str, Any] | None, tuple[str, ...]]] = {
    "defaults": (None, ()),
    "all-on-keda": (ALL_ON, (KEDA_API,)),
    "all-on-hpa": ({**ALL_ON, "autoscaling": {"engine": "hpa"}}, ()),
    "all-off": (ALL_OFF, ()),
}


def schema_problems(doc: dict[str, Any], version: str) -> list[str]:
    """Why ``doc`` is not a valid object for Kubernetes ``version`` (empty = valid)."""
    where = f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
    model = CUSTOM_RESOURCES.get(doc.get("kind", ""))
    if model is not None:
        try:
            parsed = model.model_validate(doc)
        except pydantic.ValidationError as exc:
            return [f"{where}: {exc}"]
        if parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) != doc:
            return [f"{where}: has fields (or types) its CRD does not define"]
        return []
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}: no schema for {doc.get('apiVersion')} {doc.get('kind')} in Kubernetes {version}"]
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return [f"{where} (Kubernetes {version}): {path}: {exc.message}"]
    return []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES)
def test_every_rendered_object_is_valid(case: str, version: str) -> None:
    values, api_versions = CASES[case]
    docs = render(values, api_versions=api_versions)
    assert docs
    problems = [p for doc in docs for p in schema_problems(doc, version)]
    assert problems == []


def test_the_custom_resources_are_covered_when_on() -> None:
    kinds = {d["kind"] for d in render(ALL_ON, api_versions=(KEDA_API,))}
    assert set(CUSTOM_RESOURCES) <= kinds
    assert "HorizontalPodAutoscaler" in {d["kind"] for d in render(CASES["all-on-hpa"][0])}


def test_an_unknown_field_is_reported_for_built_in_kinds_and_custom_resources() -> None:
    docs = render(ALL_ON, api_versions=(KEDA_API,))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    (problem,) = schema_problems(deployment, VERSIONS[-1])
    assert "livenesProbe" in problem
    scaled = next(d for d in docs if d["kind"] == "ScaledObject")
    scaled["spec"]["minReplicas"] = 1  # the CRD's field is minReplicaCount
    assert schema_problems(scaled, VERSIONS[-1]) == [
        f"ScaledObject {scaled['metadata']['name']}: has fields (or types) its CRD does not define"
    ]
    monitor = next(d for d in docs if d["kind"] == "PodMonitor")
    monitor["spec"]["podMetricsEndpoints"][0]["port"] = 9401  # a name (string) in the CRD
    assert schema_problems(monitor, VERSIONS[-1])
    assert schema_problems({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "1.30.0")
