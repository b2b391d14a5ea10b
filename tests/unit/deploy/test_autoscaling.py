"""Autoscaling: KEDA ScaledObjects on the lag of the consumer groups the code really uses, or a CPU HPA.

The expected group ids come from the code, not from a copy: the worker's is its Faust app id
(streams/worker.py), the deliver and store groups come from consumers.deliver.group_id and
consumers.store.store_group.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from alertstream.consumers.deliver import group_id
from alertstream.consumers.store import store_group
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import parse_config
from alertstream.schemas.topics import CHANNELS, TopicNames
from alertstream.streams.worker import WorkerApp
from tests.unit.deploy.chart import by_kind, render

KEDA_API = "keda.sh/v1alpha1/ScaledObject"
ON = {
    "worker": {"autoscaling": {"enabled": True}},
    "deliver": {"autoscaling": {"enabled": True}},
    "store": {"autoscaling": {"enabled": True}},
}


def _worker_group(prefix: str) -> str:
    """The consumer group the worker joins: its Faust app id, read from a real (unstarted) WorkerApp."""
    config = parse_config({"rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70}]}, "t")
    worker = WorkerApp("127.0.0.1:1", TopicNames(prefix), config, codec=Codec())
    try:
        return str(worker.app.conf.id)
    finally:
        worker.feed.stop()
        worker.rate_follower.stop()
        shutil.rmtree(worker.datadir)


def _expected(prefix: str) -> Iterator[tuple[str, str, list[str]]]:
    """(Deployment, consumer group, topics whose lag counts) for every process."""
    topics = TopicNames(prefix)
    yield "rel-alertstream-worker", _worker_group(prefix), [topics.events_metric, topics.events_drift]
    for channel in CHANNELS:
        yield f"rel-alertstream-deliver-{channel}", group_id(channel, prefix), [topics.alerts]
    yield "rel-alertstream-store", store_group(prefix), [topics.alerts, topics.deliveries]


@pytest.mark.parametrize("prefix", ["", "prod."])
def test_keda_scales_each_process_on_its_own_consumer_group_lag(prefix: str) -> None:
    values: dict[str, Any] = {**ON, "topicPrefix": prefix, "kafka": {"bootstrap": "kafka-1:9092,kafka-2:9092"}}
    values["autoscaling"] = {"keda": {"authenticationRef": "kafka-auth"}}
    docs = render(values, api_versions=(KEDA_API,))
    scaled = by_kind(docs, "ScaledObject")
    expected = list(_expected(prefix))
    assert set(scaled) == {name for name, _, _ in expected}
    assert by_kind(docs, "HorizontalPodAutoscaler") == {}
    for name, group, topics in expected:
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert [t["metadata"]["topic"] for t in spec["triggers"]] == topics
        for trigger in spec["triggers"]:
            assert trigger["type"] == "kafka"
            assert trigger["metadata"]["consumerGroup"] == group, name
            assert trigger["metadata"]["bootstrapServers"] == "kafka-1:9092,kafka-2:9092"
            assert trigger["metadata"]["offsetResetPolicy"] == "earliest"  # as the consumers (runtime.kafka_clients)
            assert trigger["authenticationRef"] == {"name": "kafka-auth"}
    worker = scaled["rel-alertstream-worker"]["spec"]
    assert (worker["minReplicaCount"], worker["maxReplicaCount"]) == (2, 12)
    assert worker["triggers"][0]["metadata"]["lagThreshold"] == "1000"
    # the lag cannot be read (broker down, bad credentials): back to the fixed replica count
    assert worker["fallback"] == {"failureThreshold": 3, "replicas": 2}
    assert scaled["rel-alertstream-deliver-webhook"]["spec"]["fallback"]["replicas"] == 2


def test_the_worker_group_without_a_prefix_is_the_default_app_id() -> None:
    scaled = by_kind(render(ON, api_versions=(KEDA_API,)), "ScaledObject")
    trigger = scaled["rel-alertstream-worker"]["spec"]["triggers"][0]
    assert trigger["metadata"]["consumerGroup"] == _worker_group("") == "alertstream-worker-default"


def test_a_channel_overrides_the_deliver_defaults() -> None:
    values = {
        "deliver": {
            "autoscaling": {"enabled": True},
            "channels": {"webhook": {"autoscaling": {"maxReplicas": 20, "lagThreshold": 10}}},
        }
    }
    scaled = by_kind(render(values, api_versions=(KEDA_API,)), "ScaledObject")
    assert set(scaled) == {f"rel-alertstream-deliver-{c}" for c in CHANNELS}
    webhook, slack = scaled["rel-alertstream-deliver-webhook"]["spec"], scaled["rel-alertstream-deliver-slack"]["spec"]
    assert (webhook["maxReplicaCount"], webhook["triggers"][0]["metadata"]["lagThreshold"]) == (20, "10")
    assert (slack["maxReplicaCount"], slack["triggers"][0]["metadata"]["lagThreshold"]) == (6, "100")


@pytest.mark.parametrize(
    ("engine", "cluster_has_keda", "kind"),
    [
        ("auto", True, "ScaledObject"),
        ("auto", False, "HorizontalPodAutoscaler"),
        ("hpa", True, "HorizontalPodAutoscaler"),
        ("keda", False, "ScaledObject"),
    ],
)
def test_the_engine_and_the_hpa_fallback_where_keda_is_absent(engine: str, cluster_has_keda: bool, kind: str) -> None:
    values = {"store": {"autoscaling": {"enabled": True}}, "autoscaling": {"engine": engine}}
    docs = render(values, api_versions=(KEDA_API,) if cluster_has_keda else ())
    autoscalers = [d for d in docs if d["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")]
    assert [(d["kind"], d["metadata"]["name"]) for d in autoscalers] == [(kind, "rel-alertstream-store")]
    if kind == "HorizontalPodAutoscaler":
        spec = autoscalers[0]["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "rel-alertstream-store",
        }
        assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 4)
        assert spec["metrics"] == [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}},
            }
        ]


def test_no_autoscaler_unless_enabled() -> None:
    docs = render(api_versions=(KEDA_API,))
    assert [d for d in docs if d["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")] == []
    assert all(d["spec"]["replicas"] >= 1 for d in by_kind(docs, "Deployment").values())
