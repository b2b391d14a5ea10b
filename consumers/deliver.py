"""`alertstream deliver CHANNEL`: one channel's consumer group on `alerts` and its retry tiers.

The loop only moves bytes; what happens to a task is :mod:`alertstream.consumers.deliveries`, the
decisions live in pure modules (retry_tiers, breaker, failures, offsets, partition_holds,
task_checks, task_messages), per-receiver waiting in receiver_guard, pausing in partition_pauses.

* One confluent-kafka consumer (group ``alertstream-deliver-<channel>``) subscribes to ``alerts``
  and every ``alerts.<channel>.retry.<n>``. Every consumer call that can wait runs on one
  dedicated thread; only ``consume(n, 0)``, which returns what is already fetched, runs on the
  event loop (its rebalance callbacks never wait: commits there are asynchronous).
* Each message becomes delivery tasks that run concurrently (bounded in flight, globally and per
  receiver); a slow, failing or broken receiver parks only its own tasks, never the fetch loop.
  A message's offset is finished once its tasks are and everything produced for them is
  acknowledged; offsets are committed per partition up to the first unfinished one.
* A partition is paused (and sought back to the message that made it pause) while the head of a
  retry tier is not due, while the database is down, or while the in-flight limit is reached;
  polling goes on, so the group membership is kept however long that lasts.
* Nothing stops the loop but a fatal producer error or a bug: bad bytes and invalid tasks go to
  the DLQ, oversized records are set aside, a database outage pauses, producer errors are retried.
* SIGTERM: stop fetching, drop tasks that are only waiting, let those on the wire finish within the
  grace period, commit what finished, hand the rest back uncommitted — within the grace period
  plus a bounded close, whatever the broker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from alertstream.consumers.acked_producer import AckedProducer, ProducerFatal
from alertstream.consumers.channels import Channel
from alertstream.consumers.database_gate import DatabaseGate
from alertstream.consumers.db import migrate
from alertstream.consumers.deliveries import Deliveries, Job, Source, Stats, now_ms
from alertstream.consumers.ledger import Ledger
from alertstream.consumers.model import Task, tasks_for
from alertstream.consumers.offsets import PartitionOffsets
from alertstream.consumers.partition_holds import DATABASE, NOT_DUE, Key
from alertstream.consumers.partition_pauses import PartitionPauses
from alertstream.consumers.receiver_guard import PARK_LIMIT, ReceiverGuards
from alertstream.consumers.retry_tiers import Schedule, clamp_not_before, schedule_from
from alertstream.consumers.task_checks import retry_problem
from alertstream.consumers.task_messages import HEADER_REPLAYED
from alertstream.runtime.codecs import RegistryWait
from alertstream.runtime.group_start import DEFAULT_LOOKBACK_S, GroupStart
from alertstream.runtime.health import Health
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.schemas.codec import ALERT, DELIVERY_TASK, Codec
from alertstream.schemas.config import AlertstreamConfig
from alertstream.schemas.errors import CodecError, ConfigError
from alertstream.schemas.topics import TopicNames

__all__ = ["DeliveryService", "Stats", "group_id", "now_ms"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Pause reason while every in-flight slot of the process is taken (the loop keeps polling).
BUSY = "busy"
#: What closing the consumer may take beyond the grace period (it waits for the broker).
CLOSE_SECONDS = 1.0


def group_id(channel: str, prefix: str = "") -> str:
    return f"{prefix}alertstream-deliver-{channel}"


class DeliveryService:
    def __init__(
        self,
        channel: str,
        channel_impl: Channel,
        config: AlertstreamConfig,
        bootstrap: str,
        database_url: str,
        topics: TopicNames,
        *,
        codec: Codec,
        group: str | None = None,
        batch_size: int = 500,
        park_limit: int = PARK_LIMIT,
        lookback_seconds: float | None = DEFAULT_LOOKBACK_S,
        health: Health | None = None,
    ) -> None:
        self.channel = channel
        self.impl = channel_impl
        self.config = config
        d = config.delivery
        self.schedule: Schedule = schedule_from(d.retry_delays_seconds, d.jitter, d.max_retry_after_seconds)
        self.topics = topics
        self.bootstrap = bootstrap
        self.group = group or group_id(channel, topics.prefix)
        self.batch_size = batch_size
        self.codec = codec  # built from the settings (runtime.codecs): the registry, the size limit
        self._database_url = database_url
        self._migrated = False
        self.ledger = Ledger(database_url)
        self.start = GroupStart(lookback_seconds)  # a new group skips history older than this
        self.health = health or Health()  # /healthz, /readyz (runtime.health)
        self.health.set_check("database", False, "not connected yet")
        self.registry = RegistryWait(codec, self.health)  # registry mode: wait out an outage, never DLQ
        self.guards = ReceiverGuards(channel, d, self.group, park_limit)
        self.database = DatabaseGate(
            self._connect_database, self.group, on_close=self._database_lost, on_open=self._database_back
        )
        self.deliveries = Deliveries(
            channel,
            channel_impl,
            self.schedule,
            topics,
            codec,
            self.ledger,
            self.guards,
            self.database,
            config.topics.max_message_bytes,
            self.group,
        )
        self._tier_of: dict[str, int] = {topics.alerts: 0}
        for n in range(1, self.schedule.tiers + 1):
            self._tier_of[topics.retry(channel, n)] = n
        self._kx = ThreadPoolExecutor(1, thread_name_prefix=f"kafka-{channel}")
        self._lock = threading.Lock()  # offsets, assignment, revocations: shared with callbacks
        self._offsets: dict[Key, PartitionOffsets] = {}
        self._assigned: set[Key] = set()
        self._revoked: list[Key] = []
        self._pauses = PartitionPauses(lambda fn, *a, **kw: self._kafka(fn, *a, **kw), self._is_assigned, self.group)
        self._jobs: dict[Key, set[Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(d.max_in_flight)
        self._fatal: BaseException | None = None
        self._busy = False
        self._commit_logged = 0.0
        self._consumer: Consumer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def stats(self) -> Stats:
        return self.deliveries.stats

    # -- kafka plumbing ---------------------------------------------------------------------------

    async def _kafka(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._kx, lambda: fn(*args, **kwargs))

    def _is_assigned(self, key: Key) -> bool:
        with self._lock:
            return key in self._assigned

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._assigned.update((p.topic, p.partition) for p in partitions)
        self.start.on_assign(consumer, partitions)
        self.health.partitions_changed(assigned=[(p.topic, p.partition) for p in partitions])
        log.info("%s: assigned %d partitions", self.group, len(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what finished (asynchronously: this runs inside consume()/poll(), possibly on the
        event loop) and hand the partitions over; their waiting tasks are dropped by the loop."""
        keys = [(p.topic, p.partition) for p in partitions]
        self.start.on_revoke(keys)
        self.health.partitions_changed(revoked=keys)
        commits = []
        with self._lock:
            for key in keys:
                self._assigned.discard(key)
                track = self._offsets.pop(key, None)
                if track is not None and track.uncommitted is not None:
                    commits.append(TopicPartition(key[0], key[1], track.uncommitted))
            self._revoked.extend(keys)
        if commits:
            with contextlib.suppress(KafkaException):
                consumer.commit(offsets=commits, asynchronous=True)
        log.info("%s: revoked %d partitions", self.group, len(partitions))

    def _on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """A commit failed: those offsets are committed again next time."""
        if err is None:
            return
        with self._lock:
            for p in partitions:
                track = self._offsets.get((p.topic, p.partition))
                if track is not None and track.committed == p.offset:
                    track.committed = None
        now = time.monotonic()
        if now - self._commit_logged >= 60:
            self._commit_logged = now
            log.warning("%s: commit failed (%s); will retry", self.group, err.str())

    async def _check_topics(self) -> None:
        """Refuse to start when an input, retry-tier, DLQ or config topic is missing (e.g. a tier
        added to the config without re-running ``topics create``): a task sent there could never
        be delivered."""
        probe = Consumer(consumer_config(self.bootstrap, self.group))  # metadata only: joins no group
        try:
            meta = await self._kafka(probe.list_topics, timeout=10)
        finally:
            probe.close()
        needed = [*self._tier_of, self.topics.dlq(self.channel), self.topics.config]  # config: live receivers
        missing = [t for t in needed if t not in meta.topics or meta.topics[t].error is not None]
        if missing:
            raise ConfigError(
                "topics",
                [(t, "topic does not exist: run `alertstream topics create` with this config") for t in missing],
            )

    async def _connect_database(self) -> None:
        """Migrations (once, idempotent: fresh deployments need no separate step) and the ledger."""
        if not self._migrated:
            await asyncio.to_thread(migrate, self._database_url)
            self._migrated = True
        await self.ledger.reopen()

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> Stats:
        self._loop = asyncio.get_running_loop()
        await self._check_topics()
        if not await self.database.first_open(stop):  # stopped while waiting for the database
            await self._close_clients()
            return self.stats
        self.health.set_check("database", True)
        producer_settings = producer_config(self.bootstrap, max_message_bytes=self.config.topics.max_message_bytes)
        self.deliveries.producer = AckedProducer(producer_settings, self.channel)
        self.deliveries.producer.start()
        self._consumer = Consumer(
            consumer_config(
                self.bootstrap,
                self.group,
                **{
                    "enable.partition.eof": False,
                    "on_commit": self._on_commit,
                    **self.health.kafka_callbacks(),
                },
            )
        )
        self._pauses.consumer = self._consumer
        await self._kafka(
            self._consumer.subscribe, list(self._tier_of), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        committer = asyncio.create_task(self._commit_every(self.config.delivery.commit_interval_seconds, stop))
        try:
            while not stop.is_set() and self._fatal is None:
                self.health.beat()
                self._drop_revoked()
                self._unbusy()
                # Take what librdkafka already fetched without leaving this thread; when nothing is
                # there, wait on the Kafka thread with poll(), which returns on the first message
                # (consume(n, t) would sit out its whole timeout unless n messages arrive).
                msgs = self._consumer.consume(self.batch_size, 0)
                if not msgs:
                    first = await self._kafka(self._consumer.poll, 0.1)
                    if first is not None:
                        msgs = [first, *self._consumer.consume(self.batch_size - 1, 0)]
                self._drop_revoked()
                if msgs and not await self.registry.ready(
                    [m.value() for m in msgs], lambda: stop.is_set() or self._fatal is not None
                ):
                    break  # stopping while the registry is down: these stay uncommitted
                now = now_ms()
                for msg in msgs:
                    await self._dispatch(msg, now)
                await asyncio.sleep(0)  # let the deliveries run between batches
            if self._fatal is not None:
                raise self._fatal
        finally:
            committer.cancel()
            await asyncio.gather(committer, return_exceptions=True)
            await self._shutdown()
        return self.stats

    async def _commit_every(self, interval: float, stop: asyncio.Event) -> None:
        """Commits on its own clock, so a fetch loop held by backpressure still commits progress."""
        while not stop.is_set():
            await asyncio.sleep(interval)
            await self._commit()

    def _drop_revoked(self) -> None:
        """Forget revoked partitions: their timers, their pauses, and their tasks that are only
        waiting in a lane (the new owner reads them again; sending them here too would be twice)."""
        with self._lock:
            revoked, self._revoked = self._revoked, []
        for key in revoked:
            self._pauses.drop(key)
            for job in self._jobs.get(key, ()):
                if job.only_waiting and job.handle is not None:
                    job.handle.cancel()

    async def _dispatch(self, msg: Message, now: int) -> None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("%s: consume error %s", self.group, err)
            return
        topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
        key = (topic, partition)
        if self._pauses.is_held(key):
            return  # fetched before the pause took effect; read again after the resume
        if not self.database.is_open:
            await self._hold(key, offset, DATABASE)
            return
        if self._slots.locked():
            if self._busy:  # already pausing partitions until a slot frees
                await self._hold(key, offset, BUSY)
                return
            try:
                async with asyncio.timeout(0.5):
                    await self._slots.acquire()
            except TimeoutError:  # every slot taken for a while: pause, keep polling
                self._busy = True
                await self._hold(key, offset, BUSY)
                return
        else:
            await self._slots.acquire()
        tier = self._tier_of.get(topic, 0)
        value = msg.value() or b""
        # only retry-tier messages carry the replay marker (`dlq replay` writes to tier 1)
        replayed = tier > 0 and (HEADER_REPLAYED, b"1") in (msg.headers() or [])
        source = Source(topic, partition, offset, tier, replayed)
        tasks: list[Task] = []
        problem: str | None = None
        undecodable: str | None = None
        try:
            if tier == 0 and self.start.skip(topic, partition, msg.timestamp()[1]):
                pass  # history from before this group existed: read, committed, not delivered
            elif tier == 0:
                tasks = tasks_for(self.codec.decode(value, ALERT), self.channel)
            else:
                task = self.codec.decode(value, DELIVERY_TASK)
                problem = retry_problem(task, self.channel)
                if problem is None:
                    written = msg.timestamp()[1]
                    task["not_before"] = clamp_not_before(self.schedule, tier, task["not_before"], written, now)
                    if task["not_before"] > now:
                        self._slots.release()
                        await self._hold(key, offset, NOT_DUE, task["not_before"] - now)
                        return
                tasks = [task]
        except CodecError as exc:
            undecodable = exc.reason
        with self._lock:
            track = self._offsets.get(key) or PartitionOffsets()
            self._offsets[key] = track
            track.add(offset)
        if not tasks and undecodable is None:
            self._slots.release()
            self._finish(key, offset)  # an alert with no route to this channel
            return
        job = Job(self._slots.release)
        if undecodable is not None:
            coro = self._set_aside(job, key, msg, source, undecodable)
        else:
            coro = self._handle(job, key, tasks, source, problem)
        job.handle = asyncio.create_task(coro)
        self._tasks.add(job.handle)
        self._jobs.setdefault(key, set()).add(job)
        job.handle.add_done_callback(lambda t: self._job_done(key, job, t))

    def _job_done(self, key: Key, job: Job, handle: asyncio.Task[None]) -> None:
        self._tasks.discard(handle)
        jobs = self._jobs.get(key)
        if jobs is not None:
            jobs.discard(job)
            if not jobs:
                del self._jobs[key]

    def _finish(self, key: Key, offset: int) -> None:
        with self._lock:
            track = self._offsets.get(key)
            if track is not None:
                track.done(offset)

    async def _hold(self, key: Key, offset: int, reason: str, delay_ms: int = 0) -> None:
        await self._pauses.hold(key, offset, reason, delay_ms)

    def _database_lost(self) -> None:
        self.health.set_check("database", False, "database unreachable")

    async def _database_back(self) -> None:
        self.health.set_check("database", True)
        self._pauses.release_all(DATABASE)

    def _unbusy(self) -> None:
        if self._busy and not self._slots.locked():
            self._busy = False
            self._pauses.release_all(BUSY)

    # -- one message ----------------------------------------------------------------------------------

    async def _handle(self, job: Job, key: Key, tasks: list[Task], source: Source, problem: str | None) -> None:
        try:
            if len(tasks) == 1:  # the common case: no gather, no extra task
                await self.deliveries.deliver(job, tasks[0], source, problem)
            else:
                await asyncio.gather(*(self.deliveries.deliver(job, t, source) for t in tasks))
            self._finish(key, source.offset)
        except asyncio.CancelledError:
            raise
        except ProducerFatal as exc:
            log.error("%s: the producer failed fatally (%s); stopping without committing", self.group, exc)
            self._fatal = exc
        except Exception as exc:  # a bug: stop, leave the offset uncommitted, re-read on restart
            log.exception("%s: cannot complete a delivery (%s); stopping", self.group, type(exc).__name__)
            self._fatal = exc
        finally:
            job.release_slot()

    async def _set_aside(self, job: Job, key: Key, msg: Message, source: Source, reason: str) -> None:
        """An undecodable message: its bytes (or a prefix, if too large) go to the DLQ."""
        try:
            await self.deliveries.set_aside(msg.key(), msg.value() or b"", reason, source, "undecodable")
            self._finish(key, source.offset)
        except ProducerFatal as exc:
            self._fatal = exc
        finally:
            job.release_slot()

    # -- commits and shutdown ---------------------------------------------------------------------------

    def _commits(self) -> list[TopicPartition]:
        with self._lock:
            commits = []
            for (topic, partition), track in self._offsets.items():
                if (offset := track.uncommitted) is not None:
                    commits.append(TopicPartition(topic, partition, offset))
                    track.committed = offset
        return commits

    async def _commit(self) -> None:
        """Commit every finished offset. Asynchronous: a broker that does not answer cannot hold the
        Kafka thread (its answer comes to :meth:`_on_commit`)."""
        assert self._consumer is not None
        commits = self._commits()
        if commits:
            try:
                await self._kafka(self._consumer.commit, offsets=commits, asynchronous=True)
            except KafkaException as exc:
                self._on_commit(exc.args[0], commits)

    async def _shutdown(self) -> None:
        assert self._loop is not None
        await self._pauses.close()
        deadline = self._loop.time() + self.config.delivery.shutdown_grace_seconds
        for jobs in self._jobs.values():  # waiting is not in flight: nothing of these was sent
            for job in jobs:
                if job.only_waiting and job.handle is not None:
                    job.handle.cancel()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=max(0.0, deadline - self._loop.time()))
            for t in still:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if still:
                log.warning("%s: handed back %d unfinished messages (not committed)", self.group, len(still))
        if self._consumer is not None:
            await self._close_consumer(self._consumer, max(0.0, deadline - self._loop.time()) + CLOSE_SECONDS)
        if self.deliveries.producer is not None:
            unacked = await self.deliveries.producer.close(max(0.0, deadline - self._loop.time()) + 0.25)
            if unacked:
                log.warning(
                    "%s: %d produced messages unacknowledged (their offsets were not committed)", self.group, unacked
                )
            self.deliveries.producer = None
        await self._close_clients()

    async def _close_consumer(self, consumer: Consumer, budget: float) -> None:
        """The final commit (asynchronous: close() waits for it) and close() on a thread of their
        own, waited for at most ``budget`` seconds: against a broker that is gone close() takes a
        session timeout, and SIGTERM must not wait for that (the process exits; uncommitted offsets
        are re-read, the ledger turns them into duplicates)."""
        await self._commit()
        done = threading.Event()

        def close() -> None:
            try:
                consumer.close()
            finally:
                done.set()

        threading.Thread(target=close, name=f"close-{self.channel}", daemon=True).start()
        if not await asyncio.to_thread(done.wait, budget):
            log.warning("%s: the broker did not answer the final commit/close within %.1f s", self.group, budget)

    async def _close_clients(self) -> None:
        await self.impl.aclose()
        await self.database.close()
        await self.ledger.close()
        self._kx.shutdown(wait=False)
