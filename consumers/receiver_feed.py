"""Live receivers: a deliver process follows the config topic, as the workers do.

``alertstream config publish`` reaches the workers without a restart; if the deliver processes
kept the receivers they read at start, an alert routed to a receiver that the new version added
would be dead-lettered as ``unknown_receiver``. So each deliver process reads the whole config
topic (:mod:`alertstream.runtime.topic_follower`) and swaps its :class:`~alertstream.consumers.receivers.ReceiverBook`
to every newer valid version — the same documents, parsed by the same function and ordered by the
same rule (:func:`alertstream.schemas.config.accept_published`) as the workers'. A task routed under a version this
process has not read yet is retried, not dead-lettered (``config_behind``).

What stays fixed until a restart: the ``delivery`` section (retry tiers are topics, created and
subscribed at start; concurrency and breaker settings size the running service) and secrets'
*values*, which come from this process's environment and files (a new receiver whose secret the
process cannot read is ``missing_secret``, as at start).
"""

from __future__ import annotations

import logging

from alertstream.consumers.receivers import ReceiverBook
from alertstream.runtime.topic_follower import TopicFollower
from alertstream.schemas.config import accept_published
from alertstream.schemas.topics import CONFIG_KEY

log = logging.getLogger(__name__)


class ReceiverFeed:
    """Keeps ``book`` on the newest valid config version published on ``topic``."""

    def __init__(self, bootstrap: str, topic: str, book: ReceiverBook) -> None:
        self.topic = topic
        self.book = book
        self._follower = TopicFollower(bootstrap, topic, self._on_message, f"receivers-{book.channel}")

    def start(self, catch_up_timeout: float = 15.0) -> None:
        """Start following; waits (bounded) until the topic's current documents are applied, so a
        process starts with the receivers in force rather than those of its file."""
        self._follower.start()
        if not self._follower.wait_caught_up(catch_up_timeout):
            log.warning(
                "%s: not caught up after %.0f s; starting with config version %s",
                self.topic,
                catch_up_timeout,
                self.book.version,
            )

    def stop(self) -> None:
        self._follower.stop()

    def apply(self, value: bytes, where: str) -> bool:
        """Apply one published document; True when the book switched to it."""
        config = accept_published(value, where, self.book.version)
        if config is None:
            return False
        self.book.replace(config.receivers, config.version)
        log.info(
            "config version %s from %s: %d %s receivers",
            config.version,
            where,
            len(self.book.names()),
            self.book.channel,
        )
        return True

    def _on_message(self, key: bytes | None, value: bytes | None, _partition: int, offset: int) -> None:
        if key == CONFIG_KEY and value is not None:
            self.apply(value, f"topic {self.topic} offset {offset}")
