"""values.schema.json: a typo or an impossible value fails `helm template`/`lint`/`install`, naming the value.

And the chart's documents stay complete: every value in values.yaml is in the schema and in the
chart README.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.unit.deploy.chart import CHART, NAMESPACE, RELEASE, run_helm
from tests.unit.deploy.values_cases import ALL_OFF, ALL_ON

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())

#: bad values -> the schema error helm must print (JSON pointer of the value + the problem).
BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "typo in a key": ({"worker": {"replcas": 3}}, "at '/worker': additional properties 'replcas' not allowed"),
    "unknown channel": (
        {"deliver": {"channels": {"sms": {"enabled": True, "replicas": 1, "metricsPort": 9407}}}},
        "at '/deliver/channels': additional properties 'sms' not allowed",
    ),
    "replicas not a number": ({"store": {"replicas": "two"}}, "at '/store/replicas'"),
    "port out of range": ({"worker": {"metricsPort": 70000}}, "at '/worker/metricsPort'"),
    "port zero (probes need it)": ({"deliver": {"channels": {"webhook": {"metricsPort": 0}}}}, "metricsPort"),
    "pull policy": ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
    "autoscaler engine": ({"autoscaling": {"engine": "karpenter"}}, "at '/autoscaling/engine'"),
    "monitor labels typo": (
        {"metrics": {"serviceMonitor": {"lables": {"release": "x"}}}},
        "at '/metrics/serviceMonitor': additional properties 'lables' not allowed",
    ),
    "probe path is fixed": (
        {"probes": {"liveness": {"path": "/metrics"}}},
        "at '/probes/liveness': additional properties 'path' not allowed",
    ),
    "no database secret": ({"database": {"existingSecret": ""}}, "at '/database/existingSecret'"),
    "topic prefix": ({"topicPrefix": "prod alerts"}, "at '/topicPrefix'"),
    "unknown top-level key": ({"replicaCount": 3}, "additional properties 'replicaCount' not allowed"),
}


@pytest.mark.parametrize("case", BAD_VALUES)
@pytest.mark.parametrize("command", ["template", "lint", "install"])
def test_a_bad_value_fails_naming_it(case: str, command: str) -> None:
    values, expected = BAD_VALUES[case]
    args = {
        "template": ["template", RELEASE, str(CHART)],
        "lint": ["lint", "--strict", str(CHART)],
        "install": ["install", "--dry-run=client", RELEASE, str(CHART), "--namespace", NAMESPACE],
    }[command]
    done = run_helm(*args, values=values)
    assert done.returncode != 0, done.stdout
    assert expected in done.stdout + done.stderr


@pytest.mark.parametrize("values", [None, ALL_ON, ALL_OFF], ids=["defaults", "all-on", "all-off"])
def test_lint_is_clean(values: dict[str, Any] | None) -> None:
    done = run_helm("lint", "--strict", str(CHART), values=values)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout
    # --strict fails on warnings; an INFO line (the missing icon) is the only kind allowed
    assert [line for line in done.stdout.splitlines() if line.startswith("[") and "[INFO]" not in line] == []


#: Schema definitions documented as one value (their inner keys are Kubernetes' own).
WHOLE = {"#/definitions/resources", "#/definitions/probe"}
#: Values the README documents that values.yaml leaves unset: a channel's overrides of deliver.*.
OPTIONAL = {
    "deliver.channels.<channel>.resources",
    "deliver.channels.<channel>.autoscaling",
    "deliver.channels.<channel>.existingSecret",
}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _leaves(values: Any, schema: dict[str, Any] | None = None, path: str = "") -> Iterator[str]:
    """The dotted path of every value in values.yaml, down to where the schema stops naming keys."""
    schema = SCHEMA if schema is None else schema
    if schema.get("$ref") in WHOLE:
        yield path
        return
    props = _resolve(schema).get("properties")
    if isinstance(values, dict) and values and props is not None:
        for key, child in values.items():
            child_path = f"{path}.{key}" if path else str(key)
            if key in props:
                yield from _leaves(child, props[key], child_path)
            else:
                yield child_path  # not in the schema: reported by the test below
    else:
        yield path


def _schema_at(path: str) -> dict[str, Any] | None:
    node: dict[str, Any] = SCHEMA
    for key in path.split("."):
        props = _resolve(node).get("properties", {})
        if key not in props:
            return None
        node = props[key]
    return node


def test_every_value_is_in_the_schema() -> None:
    leaves = list(_leaves(VALUES))
    assert len(leaves) > 80  # the walk reached the leaves
    assert [leaf for leaf in leaves if _schema_at(leaf) is None] == []
    assert all(_schema_at(o.replace("<channel>", "webhook")) for o in OPTIONAL)


def test_every_object_in_the_schema_refuses_unknown_keys() -> None:
    def open_objects(node: Any, path: str) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                yield path
            for key, child in node.items():
                yield from open_objects(child, f"{path}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                yield from open_objects(child, f"{path}/{i}")

    assert list(open_objects(SCHEMA, "")) == []


def test_the_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    section = readme.split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))
    # a deliver channel's values are documented once, as deliver.channels.<channel>.*
    leaves = {re.sub(r"^deliver\.channels\.[a-z]+\.", "deliver.channels.<channel>.", leaf) for leaf in _leaves(VALUES)}
    assert sorted(leaves - documented) == []
    assert documented - leaves == OPTIONAL
