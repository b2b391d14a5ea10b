"""`alertstream topics create`: every topic of the pipeline, idempotently, from the config.

Partitions, replication, cleanup policy and retention come from the config's ``topics`` section
(defaults plus per-topic overrides keyed by the contract name). DLQ and retry-tier topics always
get an explicit ``retention.ms`` (``topics.dlq_retention_ms``, ``topics.retry_retention_ms``), so
neither depends on whatever the broker's default is. Existing topics are left as they are and
reported; a broker that cannot change partitions (tansu) is never asked to.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from alertstream.runtime.kafka_clients import admin_config
from alertstream.schemas import topics as t
from alertstream.schemas.config import AlertstreamConfig, TopicSpec
from alertstream.schemas.topics import CHANNELS, TopicNames

_COMPACTED = {t.CONFIG, t.RATE_LIMITS, t.SILENCES, t.ACTIONS, t.FIRING}


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    replication: int
    config: dict[str, str]


def contract_names(config: AlertstreamConfig) -> list[str]:
    """Every topic the pipeline uses, by contract name (without the prefix)."""
    names = [t.EVENTS_METRIC, t.EVENTS_DRIFT, t.EVENTS_INVALID, t.ALERTS, t.CONFIG, t.RATE_LIMITS, t.DELIVERIES]
    names.append(t.STORE_REJECTED)
    names += [t.SILENCES, t.ACTIONS, t.FIRING]  # the alert lifecycle (streams/lifecycle.py)
    tiers = len(config.delivery.retry_delays_seconds)
    for channel in CHANNELS:
        names += [f"alerts.{channel}.retry.{n}" for n in range(1, tiers + 1)]
        names.append(f"alerts.{channel}.dlq")
    return names


def plan(config: AlertstreamConfig, topics: TopicNames) -> list[TopicPlan]:
    out = []
    for base in contract_names(config):
        spec = config.topics.overrides.get(base, TopicSpec())
        settings: dict[str, str] = {"max.message.bytes": str(config.topics.max_message_bytes)}
        policy = spec.cleanup_policy or ("compact" if base in _COMPACTED else None)
        if policy:
            settings["cleanup.policy"] = policy
        retention = config.topics.retention_ms(base)  # DLQ and retry tiers: explicit defaults
        if retention is not None:
            settings["retention.ms"] = str(retention)
        out.append(
            TopicPlan(
                name=topics.name(base),
                partitions=spec.partitions or config.topics.partitions,
                replication=spec.replication or config.topics.replication,
                config=settings,
            )
        )
    return out


@dataclass(frozen=True)
class CreateResult:
    created: list[str]
    existing: list[str]


def create_topics(bootstrap: str, config: AlertstreamConfig, topics: TopicNames, timeout: float = 30) -> CreateResult:
    """Create what is missing; raises KafkaException on any failure other than "already exists"."""
    admin = AdminClient(admin_config(bootstrap))
    plans = plan(config, topics)
    futures = admin.create_topics(
        [NewTopic(p.name, p.partitions, p.replication, config=p.config) for p in plans],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created, existing = [], []
    for name, future in futures.items():
        try:
            future.result(timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            existing.append(name)
    return CreateResult(sorted(created), sorted(existing))
