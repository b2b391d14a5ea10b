"""The Helm chart renders what an operator expects: one Deployment per process, probes on the health
endpoints, secrets only by reference and only where used, the extras on every pod, one PDB and one
Service per process, monitors that select exactly the processes, the config and the dashboard."""

from __future__ import annotations

import json
from typing import Any

import yaml

from alertstream.schemas.config import parse_config
from tests.unit.deploy.chart import CHART, NAMESPACE, RELEASE, by_kind, containers, pod_template, render, run_helm
from tests.unit.deploy.values_cases import ALL_OFF, ALL_ON, CA_MOUNT, CA_VOLUME

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
#: Deployment -> (args, metrics port) with the default values.
PROCESSES = {
    "rel-alertstream-worker": (["worker"], 9401),
    "rel-alertstream-deliver-webhook": (["deliver", "webhook"], 9402),
    "rel-alertstream-deliver-slack": (["deliver", "slack"], 9403),
    "rel-alertstream-deliver-pagerduty": (["deliver", "pagerduty"], 9404),
    "rel-alertstream-deliver-email": (["deliver", "email"], 9405),
    "rel-alertstream-store": (["store"], 9406),
    "rel-alertstream-api": (["api"], 9410),
}
DELIVER = {name for name in PROCESSES if "-deliver-" in name}


def _pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod spec by "Kind name" (Deployments, hook Jobs, the test Pod)."""
    out = {}
    for doc in docs:
        template = pod_template(doc)
        if template is not None:
            out[f"{doc['kind']} {doc['metadata']['name']}"] = template
    return out


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels + the In operator the chart uses)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_one_deployment_per_process_with_its_args_port_and_health_probes() -> None:
    deployments = by_kind(render(), "Deployment")
    assert set(deployments) == set(PROCESSES)
    for name, (args, port) in PROCESSES.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["args"] == args
        assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
        env = _env(container)
        # the API's one port is its own setting; the pipeline processes' is the metrics port
        port_env = "ALERTSTREAM_API_PORT" if args == ["api"] else "ALERTSTREAM_METRICS_PORT"
        assert env[port_env]["value"] == str(port)
        assert {"ALERTSTREAM_API_PORT", "ALERTSTREAM_METRICS_PORT"} - {port_env} & set(env) == set()
        assert env["ALERTSTREAM_KAFKA_BOOTSTRAP"]["value"] == "kafka:9092"
        assert env["ALERTSTREAM_CONFIG"]["value"] == "/etc/alertstream/config.yaml"
        # /healthz and /readyz are served beside /metrics, on the process's metrics port
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 120


def test_the_database_url_is_a_secret_reference_given_only_to_what_uses_it() -> None:
    pods = _pod_specs(render())
    uses_database = {f"Deployment {n}" for n in DELIVER} | {
        "Deployment rel-alertstream-store",
        "Deployment rel-alertstream-api",
        "Job rel-alertstream-migrate",
    }
    for name, template in pods.items():
        for container in containers(template["spec"]):
            env = _env(container)
            if name in uses_database:
                assert "value" not in env["ALERTSTREAM_DATABASE_URL"], name
                assert env["ALERTSTREAM_DATABASE_URL"]["valueFrom"] == {
                    "secretKeyRef": {"name": "alertstream-database", "key": "url"}
                }, name
            else:
                assert "ALERTSTREAM_DATABASE_URL" not in env, name
    assert uses_database < set(pods)


def test_receiver_secrets_reach_the_deliver_pods_only_and_a_channel_may_have_its_own() -> None:
    for values, webhook_secret in ((None, "alertstream-channel-secrets"), (ALL_ON, "alertstream-webhook-secrets")):
        for name, template in _pod_specs(render(values)).items():
            (container,) = template["spec"]["containers"]
            secret_refs = [s["secretRef"] for s in container.get("envFrom", []) if "secretRef" in s]
            receiver_refs = [r for r in secret_refs if r["name"] != "alertstream-kafka-credentials"]
            if name == "Deployment rel-alertstream-deliver-webhook":
                assert receiver_refs == [{"name": webhook_secret, "optional": False}], name
            elif name.removeprefix("Deployment ") in DELIVER:
                assert receiver_refs == [{"name": "alertstream-channel-secrets", "optional": False}], name
            else:
                assert receiver_refs == [], name
    no_secret = by_kind(render({"receiverSecrets": {"existingSecret": ""}}), "Deployment")
    assert all("envFrom" not in d["spec"]["template"]["spec"]["containers"][0] for d in no_secret.values())


def test_the_extras_reach_every_pod_and_container() -> None:
    pods = _pod_specs(render(ALL_ON))
    assert len(pods) == 10
    for name, template in pods.items():
        spec = template["spec"]
        assert spec["imagePullSecrets"] == [{"name": "regcred"}], name
        assert spec["priorityClassName"] == "alerting", name
        assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}, name
        assert spec["tolerations"] == ALL_ON["tolerations"], name
        assert CA_VOLUME in spec["volumes"], name
        assert template["metadata"]["annotations"]["example.com/team"] == "oncall", name
        assert template["metadata"]["labels"]["example.com/tier"] == "alerting", name
        for container in containers(spec):
            for extra in ALL_ON["extraEnv"]:
                assert extra in container["env"], (name, container["name"])
            assert {"secretRef": {"name": "alertstream-kafka-credentials"}} in container["envFrom"], name
            assert CA_MOUNT in container["volumeMounts"], (name, container["name"])
            assert _env(container)["ALERTSTREAM_TOPIC_PREFIX"]["value"] == "prod."
            assert _env(container)["ALERTSTREAM_SCHEMA_REGISTRY_URL"]["value"] == "https://registry.example.com"


def test_a_disabled_channel_and_fixed_replicas() -> None:
    deployments = by_kind(
        render({"deliver": {"channels": {"email": {"enabled": False}}}, "worker": {"replicas": 5}}), "Deployment"
    )
    assert set(deployments) == set(PROCESSES) - {"rel-alertstream-deliver-email"}
    assert deployments["rel-alertstream-worker"]["spec"]["replicas"] == 5
    docs = render(ALL_OFF)
    assert set(by_kind(docs, "Deployment")) == {
        "rel-alertstream-worker",
        "rel-alertstream-deliver-webhook",
        "rel-alertstream-store",
    }
    assert set(by_kind(docs, "Service")) == set(by_kind(docs, "Deployment"))


def test_the_hooks_migrate_and_create_topics_and_can_be_turned_off() -> None:
    jobs = by_kind(render(), "Job")
    assert set(jobs) == {"rel-alertstream-migrate", "rel-alertstream-topics"}
    assert jobs["rel-alertstream-migrate"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "migrate"]
    assert jobs["rel-alertstream-topics"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["topics", "create"]
    for job in jobs.values():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert job["spec"]["activeDeadlineSeconds"] == 600  # a stuck hook fails the install instead of hanging it
    off = render({"hooks": {"migrate": False, "createTopics": False}})
    assert [d for d in off if "helm.sh/hook" in d["metadata"].get("annotations", {}) and d["kind"] != "Pod"] == []
    (only_topics,) = by_kind(render({"hooks": {"migrate": False}}), "Job")
    assert only_topics == "rel-alertstream-topics"


def test_autoscaled_deployments_leave_the_replica_count_to_the_autoscaler() -> None:
    deployments = by_kind(render(ALL_ON), "Deployment")
    assert all("replicas" not in d["spec"] for d in deployments.values())


def test_the_api_runs_as_a_deployment_with_a_service_probes_and_the_database() -> None:
    docs = render()
    (container,) = by_kind(docs, "Deployment")["rel-alertstream-api"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["api"]
    env = _env(container)
    assert env["ALERTSTREAM_API_PORT"]["value"] == "9410"
    assert env["ALERTSTREAM_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "alertstream-database",
        "key": "url",
    }
    assert "envFrom" not in container  # no receiver secrets
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    service = by_kind(docs, "Service")["rel-alertstream-api"]
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9410, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["spec"]["selector"] == {"app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": "api"}
    # it consumes no topic: even with KEDA as the engine its autoscaler is the CPU HPA
    on = render(ALL_ON)
    assert "rel-alertstream-api" in by_kind(on, "HorizontalPodAutoscaler")
    assert "rel-alertstream-api" not in by_kind(on, "ScaledObject")
    assert set(by_kind(on, "ScaledObject")) == set(PROCESSES) - {"rel-alertstream-api"}
    off = render({"api": {"enabled": False}})
    assert "rel-alertstream-api" not in by_kind(off, "Deployment")
    assert "rel-alertstream-api" not in by_kind(off, "Service")


def test_a_pod_disruption_budget_per_deployment_selecting_its_pods() -> None:
    docs = render()
    deployments = by_kind(docs, "Deployment")
    budgets = by_kind(docs, "PodDisruptionBudget")
    assert set(budgets) == set(deployments)
    for name, budget in budgets.items():
        assert budget["spec"]["maxUnavailable"] == 1
        assert "minAvailable" not in budget["spec"]
        assert budget["spec"]["selector"] == deployments[name]["spec"]["selector"]
    minimum = by_kind(render({"podDisruptionBudget": {"minAvailable": "50%"}}), "PodDisruptionBudget")
    assert all(b["spec"] == {"minAvailable": "50%", "selector": b["spec"]["selector"]} for b in minimum.values())
    assert by_kind(render(ALL_OFF), "PodDisruptionBudget") == {}


def test_topology_spread_over_zones_and_nodes_counts_each_process_own_pods() -> None:
    for name, deployment in by_kind(render(), "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        constraints = spec["topologySpreadConstraints"]
        assert [c["topologyKey"] for c in constraints] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        for c in constraints:
            assert c["labelSelector"] == deployment["spec"]["selector"], name
            assert (c["maxSkew"], c["whenUnsatisfiable"]) == (1, "ScheduleAnyway")
    for deployment in by_kind(render(ALL_OFF), "Deployment").values():
        assert "topologySpreadConstraints" not in deployment["spec"]["template"]["spec"]


def test_a_service_per_process_on_its_metrics_port() -> None:
    docs = render()
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    assert set(services) == set(deployments)
    for name, service in services.items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert _selects({"matchLabels": service["spec"]["selector"]}, pod_labels)
        others = [n for n, d in deployments.items() if n != name]
        assert not any(
            _selects(
                {"matchLabels": service["spec"]["selector"]}, deployments[o]["spec"]["template"]["metadata"]["labels"]
            )
            for o in others
        )
        assert service["spec"]["ports"] == [
            {"name": "metrics", "port": PROCESSES[name][1], "targetPort": "metrics", "protocol": "TCP"}
        ]


def test_monitors_carry_the_prometheus_selector_labels_and_select_exactly_the_processes() -> None:
    docs = render(ALL_ON)
    (pod_monitor,) = by_kind(docs, "PodMonitor").values()
    (service_monitor,) = by_kind(docs, "ServiceMonitor").values()
    for monitor in (pod_monitor, service_monitor):
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    pods = _pod_specs(docs)
    selected = {n for n, t in pods.items() if _selects(pod_monitor["spec"]["selector"], t["metadata"]["labels"])}
    assert selected == {f"Deployment {n}" for n in PROCESSES}  # not the hook Jobs nor the test Pod
    assert pod_monitor["spec"]["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    services = {
        n
        for n, s in by_kind(docs, "Service").items()
        if _selects(service_monitor["spec"]["selector"], s["metadata"]["labels"])
    }
    assert services == set(PROCESSES)
    assert service_monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    assert by_kind(render(), "PodMonitor") == {}
    assert by_kind(render(), "ServiceMonitor") == {}


def test_the_config_and_the_dashboard() -> None:
    maps = by_kind(render(ALL_ON), "ConfigMap")
    config = yaml.safe_load(maps["rel-alertstream-config"]["data"]["config.yaml"])
    assert config["topics"] == {"partitions": 12, "replication": 3}
    parse_config(config, "values.yaml:config")  # the shipped default is a valid alertstream config
    dashboard_map = maps["rel-alertstream-dashboard"]
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard_map["metadata"]["annotations"] == {"grafana_folder": "alertstream"}
    dashboard = json.loads(dashboard_map["data"]["alertstream.json"])
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    missing = [m for m in CONTRACT_METRICS if m not in exprs]
    assert missing == []
    assert "rel-alertstream-dashboard" not in by_kind(render(ALL_OFF), "ConfigMap")


def test_a_config_change_rolls_every_process() -> None:
    before = by_kind(render(), "Deployment")
    after = by_kind(render({"config": "version: 2\n"}), "Deployment")
    for name in PROCESSES:
        old = before[name]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        new = after[name]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        assert old != new, name


def test_install_notes_name_each_process_with_its_consumer_group() -> None:
    done = run_helm("install", "--dry-run=client", RELEASE, str(CHART), "--namespace", NAMESPACE, values=ALL_ON)
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    for line in (
        "rel-alertstream-worker  group alertstream-worker-prod  port 9401",
        "rel-alertstream-deliver-webhook  group prod.alertstream-deliver-webhook  port 9402",
        "rel-alertstream-store  group prod.alertstream-store  port 9406",
        "helm test rel -n alerting",
    ):
        assert line in notes
