"""Live config: the compacted config topic, read by every worker as a global table.

``alertstream worker`` publishes the validated ``ALERTSTREAM_CONFIG`` to the config topic (key
``config``) at start when its ``version`` is newer than the topic's; ``alertstream config publish``
does the same from a shell (:func:`publish_config`). Versions only move forward: a document older
than the one in force is ignored by every worker, and is refused at publish — otherwise a worker
restarted with a stale file would roll back a live change, and after compaction a new worker could
see a different version than the running ones. Every worker reads
the *whole* topic — no consumer group, all partitions from the beginning, like a Faust
GlobalTable — on a background thread, and the evaluator switches to each valid version between
two batches: a rule change reaches running workers without a restart. An invalid document is
logged (file, path, problem) and ignored; the previous version stays in force.

This is a plain confluent-kafka reader rather than a Faust GlobalTable because it must also
work before the Faust app has finished its first rebalance, and because it is the one table that
must never be partitioned across workers.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from alertstream.kafka_clients import consumer_config, producer_config
from schemas.config import AlertstreamConfig, parse_config
from schemas.errors import ConfigError
from streams.evaluator import Compiled

log = logging.getLogger(__name__)
CONFIG_KEY = b"config"


class StaleConfig(ConfigError):
    """A document whose version is not newer than the one in force on the config topic."""


def publish_config(
    bootstrap: str, topic: str, data: Mapping[str, Any], *, in_force: int | None = None
) -> AlertstreamConfig:
    """Validate ``data`` (parsed YAML) and publish it as the current config; returns the model.

    ``in_force`` is the version on the topic (see :meth:`ConfigFeed.wait_caught_up`); a document
    that is not newer raises :class:`StaleConfig` and nothing is published.
    """
    config = parse_config(dict(data), f"topic {topic}")
    Compiled.from_config(config, f"topic {topic}")  # cross-checks (receivers named by routes)
    if in_force is not None and config.version <= in_force:
        raise StaleConfig(
            f"topic {topic}",
            [("version", f"{config.version} is not newer than version {in_force} in force: bump it to publish")],
        )
    producer = Producer(producer_config(bootstrap))
    producer.produce(topic, key=CONFIG_KEY, value=json.dumps(data).encode())
    if producer.flush(30):
        raise RuntimeError(f"config not delivered to {topic}")
    return config


class ConfigFeed:
    """Follows the config topic on a daemon thread; :attr:`latest` is the newest valid version."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.latest: Compiled | None = None
        self.generation = 0
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._ends: dict[int, int] = {}
        group = f"alertstream-config-reader-{uuid.uuid4().hex[:8]}"  # never commits; no shared group
        self._consumer = Consumer(consumer_config(bootstrap, group, **{"enable.partition.eof": False}))
        self._thread = threading.Thread(target=self._run, name="config-feed", daemon=True)

    def start(self) -> None:
        meta = self._consumer.list_topics(self.topic, timeout=10)
        partitions = meta.topics[self.topic].partitions if self.topic in meta.topics else {0: None}
        self._consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        for p in partitions:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)
            if high > max(low, 0):
                self._ends[p] = high
        if not self._ends:
            self._caught_up.set()
        self._thread.start()

    def wait_caught_up(self, timeout: float) -> bool:
        """Block until everything on the topic at :meth:`start` has been read (or ``timeout``)."""
        return self._caught_up.wait(timeout)

    @property
    def version(self) -> int | None:
        """The version in force, or None before any valid document."""
        return self.latest.version if self.latest is not None else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()

    def apply(self, value: bytes, where: str) -> bool:
        """Parse and compile one published document; True when it became :attr:`latest`."""
        try:
            data = json.loads(value)
            config = parse_config(data, where)
            compiled = Compiled.from_config(config, where)
        except ConfigError as exc:
            log.error("ignoring invalid config from %s:\n%s", where, exc)
            return False
        except ValueError as exc:
            log.error("ignoring config from %s: not JSON (%s)", where, exc)
            return False
        if self.latest is not None and config.version < self.latest.version:
            log.error(
                "ignoring config version %s from %s: older than version %s in force (versions only move forward)",
                config.version,
                where,
                self.latest.version,
            )
            return False
        self.latest = compiled
        self.generation += 1
        log.info("config version %s from %s: %d rules", config.version, where, len(config.rules))
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("config topic: %s", error)
                continue
            value = msg.value()
            offset = msg.offset() or 0
            if msg.key() == CONFIG_KEY and value is not None:
                self.apply(value, f"topic {self.topic} offset {offset}")
            end = self._ends.get(msg.partition() or 0)
            if end is not None and offset + 1 >= end:
                del self._ends[msg.partition() or 0]
                if not self._ends:
                    self._caught_up.set()
