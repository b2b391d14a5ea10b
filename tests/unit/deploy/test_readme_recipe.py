"""The secured-Kafka Helm recipe in README.md is what it says: pasted as it stands, its values file
passes the chart's schema and gives every alertstream container the connection settings, the
credentials Secret and the mounted CA, with the monitors and the alert rules on."""

from __future__ import annotations

import re

import yaml

from tests.unit.deploy.chart import ROOT, by_kind, containers, pod_template, render

README = ROOT / "README.md"


def _recipe_values() -> dict[str, object]:
    found = re.search(r"cat > secured-values\.yaml <<'YAML'\n(.*?)\nYAML\n", README.read_text(), re.S)
    assert found, "README.md has no secured-values.yaml recipe"
    values: dict[str, object] = yaml.safe_load(found.group(1))
    return values


def test_the_readme_secured_recipe_renders_with_the_settings_on_every_container() -> None:
    docs = render(_recipe_values())
    pods = {f"{d['kind']} {d['metadata']['name']}": t for d in docs if (t := pod_template(d)) is not None}
    checked = set()
    for name, template in pods.items():
        for container in containers(template["spec"]):
            if not str(container.get("image", "")).split("/")[-1].startswith("alertstream"):
                continue
            checked.add(name)
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env["ALERTSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
            assert env["ALERTSTREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
            assert env["ALERTSTREAM_KAFKA_BOOTSTRAP"] == "kafka-1.example.com:9093,kafka-2.example.com:9093"
            assert {"secretRef": {"name": "alertstream-kafka-credentials"}} in container.get("envFrom", [])
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts["/etc/alertstream/kafka-ca"] == "kafka-ca"
            assert env["ALERTSTREAM_KAFKA_SSL_CA_FILE"].startswith("/etc/alertstream/kafka-ca/")
    assert checked == set(pods), set(pods) - checked  # every pod runs alertstream: processes, hooks, test
    assert len(by_kind(docs, "PodMonitor")) == 1
    assert len(by_kind(docs, "PrometheusRule")) == 1
