"""Live config: the compacted config topic, read by every worker as a global table.

``alertstream worker`` publishes the validated ``ALERTSTREAM_CONFIG`` to the config topic (key
``config``) at start when its ``version`` is newer than the topic's; ``alertstream config publish``
does the same from a shell (:func:`publish_config`). Versions only move forward: a document older
than the one in force is ignored by every worker, and is refused at publish — otherwise a worker
restarted with a stale file would roll back a live change, and after compaction a new worker could
see a different version than the running ones. Every worker reads
the *whole* topic (:mod:`alertstream.runtime.topic_follower`), and the evaluator switches to each valid version between
two batches: a rule change reaches running workers without a restart. An invalid document is
logged (file, path, problem) and ignored; the previous version stays in force.

**Hand-over.** The follower thread publishes each version as one immutable :class:`Published`
(generation + compiled config) in a single attribute assignment, which the event loop reads in one
go. Two separate attributes (``latest`` then ``generation``) let an update land between the
worker's two reads: it applied the older config under the newer generation and ignored the newest
until the next publish.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.topic_follower import TopicFollower
from alertstream.schemas.config import AlertstreamConfig, accept_published, parse_config
from alertstream.schemas.errors import ConfigError
from alertstream.schemas.topics import CONFIG_KEY
from alertstream.streams.evaluator import Compiled

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Published:
    """One accepted config version and its sequence number on this feed (1, 2, ...)."""

    generation: int
    compiled: Compiled


class ConfigFeed:
    """Follows the config topic; :attr:`current` is the newest valid version (read it once)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        #: Replaced whole by the follower thread; never mutated.
        self.current: Published | None = None
        self._follower = TopicFollower(bootstrap, topic, self._on_message, "config-feed")

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def wait_caught_up(self, timeout: float) -> bool:
        """Block until everything on the topic at :meth:`start` has been read (or ``timeout``)."""
        return self._follower.wait_caught_up(timeout)

    @property
    def latest(self) -> Compiled | None:
        current = self.current
        return current.compiled if current is not None else None

    @property
    def generation(self) -> int:
        current = self.current
        return current.generation if current is not None else 0

    @property
    def version(self) -> int | None:
        """The version in force, or None before any valid document."""
        current = self.current
        return current.compiled.version if current is not None else None

    def apply(self, value: bytes, where: str) -> bool:
        """Parse and compile one published document; True when it became :attr:`latest`."""
        config = accept_published(value, where, self.version)
        if config is None:
            return False
        self.current = Published(self.generation + 1, Compiled.from_config(config))  # one assignment
        log.info("config version %s from %s: %d rules", config.version, where, len(config.rules))
        return True

    @classmethod
    def in_force(cls, bootstrap: str, topic: str, timeout: float = 30.0) -> Compiled | None:
        """Read the whole topic once: the config the workers run now (None when there is none).

        Raises TimeoutError when the topic could not be read to its end within ``timeout``."""
        feed = cls(bootstrap, topic)
        feed.start()
        try:
            if not feed.wait_caught_up(timeout):
                raise TimeoutError(f"could not read {topic} to its end in {timeout:.0f} s")
            return feed.latest
        finally:
            feed.stop()

    def _on_message(self, key: bytes | None, value: bytes | None, _partition: int, offset: int) -> None:
        if key == CONFIG_KEY and value is not None:
            self.apply(value, f"topic {self.topic} offset {offset}")
