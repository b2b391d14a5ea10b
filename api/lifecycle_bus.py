"""The API's side of the lifecycle topics: publish actions and silences, follow silences and config.

The API writes user actions and silences to their compacted topics (the worker applies them; the
store audits them) and must answer for silences and schedules at once, without the database:

* **silences** — a follower (:class:`~alertstream.runtime.topic_follower.TopicFollower`) reads the
  whole silences topic into memory; a silence this process publishes is put into that view as soon
  as the broker has acknowledged it (read-your-writes: ``amtool silence add`` then ``query`` sees
  it), other processes' within the follower's lag (milliseconds).
* **config** — the schedules and escalation policies in force: the config topic (the same
  documents and rules as the workers: :func:`~alertstream.schemas.config.accept_published`), the
  file's config until the topic has one.

Every broker call happens on a thread: :meth:`LifecycleBus.publish` is awaited through
``asyncio.to_thread`` and waits for the acknowledgement (acks=all) so that a 2xx answer means the
action or silence is on the broker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from confluent_kafka import Producer

from alertstream.runtime.kafka_clients import producer_config
from alertstream.runtime.topic_follower import TopicFollower
from alertstream.schemas.actions import Action
from alertstream.schemas.config import AlertstreamConfig, accept_published
from alertstream.schemas.silences import Silence, SilenceError
from alertstream.schemas.topics import CONFIG_KEY, TopicNames

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BusConfig:
    """Where the API publishes and follows (unset: the lifecycle write endpoints answer 503)."""

    bootstrap: str
    topics: TopicNames
    config: AlertstreamConfig


class BusUnavailable(RuntimeError):
    """The broker did not acknowledge in time (the API answers 503)."""


class LifecycleBus:
    def __init__(self, bootstrap: str, topics: TopicNames, config: AlertstreamConfig) -> None:
        """Nothing connects until :meth:`start` (the followers' threads)."""
        self.topics = topics
        self.config = config
        self._producer = Producer(producer_config(bootstrap))
        self._lock = threading.Lock()
        self.silences: dict[str, Silence] = {}
        self._followers = [
            TopicFollower(bootstrap, topics.silences, self._on_silence, "api-silences"),
            TopicFollower(bootstrap, topics.config, self._on_config, "api-config"),
        ]

    def start(self) -> None:
        for f in self._followers:
            f.start()

    def stop(self) -> None:
        for f in self._followers:
            f.stop()
        self._producer.flush(5)

    def wait_caught_up(self, timeout: float) -> bool:
        return all(f.wait_caught_up(timeout) for f in self._followers)

    def _on_silence(self, key: bytes | None, value: bytes | None, _p: int, offset: int) -> None:
        if value is None:
            if key is not None:
                with self._lock:
                    self.silences.pop(key.decode("utf-8", "replace"), None)
            return
        try:
            s = Silence.from_json(value)
        except SilenceError as exc:
            log.warning("silences offset %d ignored: %s", offset, exc)
            return
        self._remember(s)

    def _remember(self, s: Silence) -> None:
        with self._lock:
            known = self.silences.get(s.id)
            if known is None or known.updated_at <= s.updated_at:
                self.silences[s.id] = s

    def _on_config(self, key: bytes | None, value: bytes | None, _p: int, offset: int) -> None:
        if key == CONFIG_KEY and value is not None:
            config = accept_published(value, f"topic {self.topics.config} offset {offset}", None)
            if config is not None:
                self.config = config

    def snapshot(self) -> list[Silence]:
        with self._lock:
            return list(self.silences.values())

    def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        errors: list[str] = []

        def delivered(err: object, _msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        self._producer.produce(topic, key=key, value=value, on_delivery=delivered)
        if self._producer.flush(PUBLISH_TIMEOUT_S) or errors:
            raise BusUnavailable(f"{topic}: not acknowledged ({errors[0] if errors else 'timeout'})")

    async def publish_action(self, action: Action) -> None:
        await asyncio.to_thread(self._produce, self.topics.actions, action.fingerprint.encode(), action.to_json())

    async def publish_silence(self, silence: Silence) -> None:
        await asyncio.to_thread(self._produce, self.topics.silences, silence.id.encode(), silence.to_json())
        self._remember(silence)
