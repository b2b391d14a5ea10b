"""The consumer side of :mod:`alertstream.consumers.partition_holds`: pause and seek, the timers of
retries not yet due, and a resume that is retried until it works.

A paused partition is sought back to the first message the loop did not handle, so everything
fetched meanwhile is read again after the resume. A ``resume()`` that fails (the broker busy, the
client in a rebalance) was once swallowed and left the partition paused until the next
rebalance; it is now retried with back-off for as long as the partition is assigned here and
nothing holds it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from alertstream.consumers.partition_holds import NOT_DUE, Key, PartitionHolds, resume_backoff

log = logging.getLogger(__name__)

KafkaCall = Callable[..., Awaitable[Any]]


class PartitionPauses:
    def __init__(self, kafka: KafkaCall, is_assigned: Callable[[Key], bool], group: str) -> None:
        self._kafka = kafka  # runs a consumer call on the Kafka thread
        self._is_assigned = is_assigned
        self.group = group
        self.holds = PartitionHolds()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._resumes: set[asyncio.Task[None]] = set()
        self.consumer: Consumer | None = None
        self.stopping = False

    def is_held(self, key: Key) -> bool:
        return self.holds.is_held(key)

    async def hold(self, key: Key, offset: int, reason: str, delay_ms: int = 0) -> None:
        """Pause ``key`` for ``reason``, sought back to ``offset``; NOT_DUE releases after ``delay_ms``."""
        assert self.consumer is not None
        if self.holds.hold(key, reason):
            try:
                await self._kafka(self.consumer.pause, [TopicPartition(key[0], key[1])])
                await self._kafka(self.consumer.seek, TopicPartition(key[0], key[1], offset))
            except KafkaException as exc:  # revoked meanwhile: the next owner reads it
                log.warning("%s: cannot pause %s[%d]: %s", self.group, key[0], key[1], exc)
        if reason == NOT_DUE:
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(delay_ms / 1000.0, self._due, key)

    def _due(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.release(key, NOT_DUE)

    def release(self, key: Key, reason: str) -> None:
        if self.holds.release(key, reason) and not self.stopping:
            job = asyncio.ensure_future(self._resume(key))
            self._resumes.add(job)
            job.add_done_callback(self._resumes.discard)

    def release_all(self, reason: str) -> None:
        for key in self.holds.held_for(reason):
            self.release(key, reason)

    async def _resume(self, key: Key) -> None:
        assert self.consumer is not None
        failures = 0
        while not self.stopping:
            if not self._is_assigned(key) or self.holds.is_held(key):
                return
            try:
                await self._kafka(self.consumer.resume, [TopicPartition(key[0], key[1])])
                if failures:
                    log.info("%s: resumed %s[%d] after %d failed attempts", self.group, key[0], key[1], failures)
                return
            except KafkaException as exc:
                failures += 1
                if failures == 1:
                    log.warning("%s: resume of %s[%d] failed (%s); retrying", self.group, key[0], key[1], exc)
                await asyncio.sleep(resume_backoff(failures))

    def drop(self, key: Key) -> None:
        """``key`` was revoked: forget its timer and its reasons."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self.holds.drop(key)

    async def close(self) -> None:
        self.stopping = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.holds.clear()
        for job in list(self._resumes):
            job.cancel()
        await asyncio.gather(*self._resumes, return_exceptions=True)
