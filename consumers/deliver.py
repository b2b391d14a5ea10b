"""`alertstream deliver CHANNEL`: one channel's consumer group on `alerts` and its retry tiers.

The loop only moves bytes; the decisions live in pure modules (retry_tiers, breaker, failures,
offsets, task_messages) and per-receiver protection in receiver_guard.

* One confluent-kafka consumer (group ``alertstream-deliver-<channel>``) subscribes to ``alerts``
  and every ``alerts.<channel>.retry.<n>``. Every consumer call that can wait runs on one
  dedicated thread; only ``consume(n, 0)``, which returns what is already fetched, runs on the
  event loop (a rebalance callback it triggers can still hold the loop briefly).
* Each message becomes delivery tasks that run concurrently (bounded in flight, globally and per
  receiver); a slow or failing receiver holds only its own tasks' offsets, never the fetch loop.
  Offsets are committed per partition up to the first unfinished message (at-least-once).
* A retry-tier message that is not yet due pauses its partition and seeks back to it; a timer
  resumes the partition when the head is due. Other partitions keep flowing, polling continues
  (no rebalance from long pauses), and nothing spins while waiting.
* Success → the ledger (batched insert-if-absent) then the outcome; a retryable failure → the next
  tier with attempt/not-before headers; a permanent failure or the last tier → the channel's DLQ
  with reason headers. Every path ends in a delivery or the DLQ, counted: critical is never dropped.
* A per-receiver circuit breaker sends tasks straight to the retry path while the receiver is
  failing; 410 Gone disables the receiver (reported, metric) until a `dlq replay` succeeds.
* SIGTERM: stop fetching, let in-flight deliveries finish within the grace period, commit what
  finished, hand the rest back uncommitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from alertstream.consumers.channels import Channel
from alertstream.consumers.failures import from_exception
from alertstream.consumers.ledger import Ledger, SentRow
from alertstream.consumers.model import Task, tasks_for
from alertstream.consumers.offsets import PartitionOffsets
from alertstream.consumers.receiver_guard import ReceiverGuards
from alertstream.consumers.retry_tiers import Schedule, next_step, schedule_from
from alertstream.consumers.task_messages import (
    HEADER_REPLAYED,
    dlq_headers,
    error_text,
    outcome_record,
    retry_headers,
    undecodable_headers,
)
from alertstream.runtime.codecs import RegistryWait
from alertstream.runtime.group_start import DEFAULT_LOOKBACK_S, GroupStart
from alertstream.runtime.health import Health
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.runtime.metrics import DLQ_MESSAGES, NOTIFICATION_LATENCY, NOTIFICATIONS, RETRIES
from alertstream.schemas.codec import ALERT, DELIVERY_OUTCOME, DELIVERY_TASK, Codec
from alertstream.schemas.config import AlertstreamConfig
from alertstream.schemas.errors import (
    CodecError,
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from alertstream.schemas.topics import TopicNames

log = logging.getLogger(__name__)
T = TypeVar("T")


def now_ms() -> int:
    return int(time.time() * 1000)


def group_id(channel: str, prefix: str = "") -> str:
    return f"{prefix}alertstream-deliver-{channel}"


@dataclass
class Stats:
    """Counts for tests and the benchmark (the metrics carry the same numbers)."""

    sent: int = 0
    retried: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


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
        self.ledger = Ledger(database_url)
        self.start = GroupStart(lookback_seconds)  # a new group skips history older than this
        self.health = health or Health()  # /healthz, /readyz (runtime.health)
        self.health.set_check("database", False, "not connected yet")
        self.registry = RegistryWait(codec, self.health)  # registry mode: wait out an outage, never DLQ
        self.stats = Stats()
        self._tier_of: dict[str, int] = {topics.alerts: 0}
        for n in range(1, self.schedule.tiers + 1):
            self._tier_of[topics.retry(channel, n)] = n
        self._kx = ThreadPoolExecutor(1, thread_name_prefix=f"kafka-{channel}")
        self._lock = threading.Lock()
        self._offsets: dict[tuple[str, int], PartitionOffsets] = {}
        self._paused: dict[tuple[str, int], asyncio.TimerHandle] = {}
        self._revoked: list[tuple[str, int]] = []
        self.guards = ReceiverGuards(channel, d, self.group)
        self._inflight_ids: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(d.max_in_flight)
        self._fatal: BaseException | None = None
        self._produce_error: KafkaException | None = None
        self._producer: Producer | None = None
        self._poller: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self._poll_stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- kafka plumbing ---------------------------------------------------------------------------

    async def _kafka(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._kx, lambda: fn(*args, **kwargs))

    def _producer_poll(self) -> None:
        producer = self._producer
        assert producer is not None
        while not self._poll_stop.is_set():
            producer.poll(0.05)

    def _produce(
        self, topic: str, key: str, value: bytes, headers: list[tuple[str, str | bytes | None]] | None = None
    ) -> None:
        """Enqueue a message. No per-message wait: :meth:`_commit` flushes the producer before it
        commits any offset, so nothing is committed whose retry/DLQ/outcome message is not acked."""
        assert self._producer is not None
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key.encode(), headers=headers, on_delivery=self._delivery_report
                )
                return
            except BufferError:
                time.sleep(0.001)  # librdkafka queue full: the poll thread drains it

    def _delivery_report(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None and self._produce_error is None:
            self._produce_error = KafkaException(err)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.start.on_assign(consumer, partitions)
        self.health.partitions_changed(assigned=[(p.topic, p.partition) for p in partitions])
        log.info("%s: assigned %d partitions", self.group, len(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(p.topic, p.partition) for p in partitions]
        self.start.on_revoke(keys)
        self.health.partitions_changed(revoked=keys)
        commits = []
        with self._lock:
            for key in keys:
                track = self._offsets.pop(key, None)
                if track is not None and track.uncommitted is not None:
                    commits.append(TopicPartition(key[0], key[1], track.uncommitted))
            self._revoked.extend(keys)
        if commits and self._producer is not None and self._producer.flush(30) == 0 and self._produce_error is None:
            with contextlib.suppress(KafkaException):
                consumer.commit(offsets=commits, asynchronous=False)
        log.info("%s: revoked %d partitions", self.group, len(partitions))

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

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> Stats:
        self._loop = asyncio.get_running_loop()
        await self._check_topics()
        await self.ledger.open()
        self.health.set_check("database", True)
        self._producer = Producer(producer_config(self.bootstrap, **{"linger.ms": 2}))
        self._poller = threading.Thread(target=self._producer_poll, name=f"producer-{self.channel}", daemon=True)
        self._poller.start()
        self._consumer = Consumer(
            consumer_config(
                self.bootstrap,
                self.group,
                **{"fetch.wait.max.ms": 10, "enable.partition.eof": False, **self.health.kafka_callbacks()},
            )
        )
        await self._kafka(
            self._consumer.subscribe, list(self._tier_of), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        committer = asyncio.create_task(self._commit_every(self.config.delivery.commit_interval_seconds, stop))
        try:
            while not stop.is_set() and self._fatal is None:
                self.health.beat()
                self._drop_revoked()
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
        with self._lock:
            revoked, self._revoked = self._revoked, []
        for key in revoked:
            timer = self._paused.pop(key, None)
            if timer is not None:
                timer.cancel()

    async def _dispatch(self, msg: Message, now: int) -> None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("%s: consume error %s", self.group, err)
            return
        topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
        key = (topic, partition)
        if key in self._paused:
            return  # fetched before the pause took effect; it is read again after the resume
        tier = self._tier_of.get(topic, 0)
        value = msg.value() or b""
        # only retry-tier messages carry the replay marker (`dlq replay` writes to tier 1)
        replayed = tier > 0 and (HEADER_REPLAYED, b"1") in (msg.headers() or [])
        tasks: list[Task]
        try:
            if self.start.skip(topic, partition, msg.timestamp()[1]):
                tasks = []  # history from before this group existed: read, committed, not delivered
            elif tier == 0:
                tasks = tasks_for(self.codec.decode(value, ALERT), self.channel)
            else:
                task = self.codec.decode(value, DELIVERY_TASK)
                if task["not_before"] > now:
                    await self._pause(key, offset, task["not_before"] - now)
                    return
                tasks = [task]
        except CodecError as exc:
            tasks = []
            self._raw_to_dlq(msg, exc.reason)
        with self._lock:
            track = self._offsets.get(key) or PartitionOffsets()
            self._offsets[key] = track
            track.add(offset)
        if not tasks:
            self._finish(key, offset)
            return
        await self._slots.acquire()
        job = asyncio.create_task(self._handle(key, offset, tasks, replayed))
        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)

    def _finish(self, key: tuple[str, int], offset: int) -> None:
        with self._lock:
            track = self._offsets.get(key)
            if track is not None:
                track.done(offset)

    async def _pause(self, key: tuple[str, int], offset: int, delay_ms: int) -> None:
        assert self._consumer is not None
        assert self._loop is not None
        tp = TopicPartition(key[0], key[1])
        await self._kafka(self._consumer.pause, [tp])
        await self._kafka(self._consumer.seek, TopicPartition(key[0], key[1], offset))
        self._paused[key] = self._loop.call_later(delay_ms / 1000.0, self._resume_soon, key)

    def _resume_soon(self, key: tuple[str, int]) -> None:
        if self._paused.pop(key, None) is None:
            return
        assert self._consumer is not None
        consumer = self._consumer

        async def resume() -> None:
            with contextlib.suppress(KafkaException):
                await self._kafka(consumer.resume, [TopicPartition(key[0], key[1])])

        job = asyncio.ensure_future(resume())
        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)

    async def _commit(self) -> None:
        assert self._consumer is not None
        with self._lock:
            commits = []
            for (topic, partition), track in self._offsets.items():
                if (offset := track.uncommitted) is not None:
                    commits.append(TopicPartition(topic, partition, offset))
                    track.committed = offset
        if commits:
            assert self._producer is not None
            remaining = await self._kafka(self._producer.flush, 30)
            if remaining or self._produce_error is not None:
                # a retry/DLQ/outcome message was not acked: commit nothing, stop, re-read on restart
                self._fatal = self._produce_error or KafkaException(f"{remaining} messages not acknowledged")
                log.error("%s: producing failed (%s); stopping without committing", self.group, self._fatal)
                return
            try:
                await self._kafka(self._consumer.commit, offsets=commits, asynchronous=False)
            except KafkaException as exc:
                log.warning("%s: commit failed (%s); will retry", self.group, exc)
                with self._lock:
                    for c in commits:
                        again = self._offsets.get((c.topic, c.partition))
                        if again is not None:
                            again.committed = None

    async def _shutdown(self) -> None:
        grace = self.config.delivery.shutdown_grace_seconds
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=grace)
            for t in still:
                t.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
                log.warning("%s: handed back %d unfinished messages (not committed)", self.group, len(still))
        for timer in self._paused.values():
            timer.cancel()
        self._paused.clear()
        if self._consumer is not None:
            with contextlib.suppress(KafkaException):
                await self._commit()
            await self._kafka(self._consumer.close)
        if self._producer is not None:
            await self._kafka(self._producer.flush, 10)
            self._poll_stop.set()
            if self._poller is not None:
                await self._kafka(self._poller.join, 5)
            # Destroy the librdkafka handle now rather than whenever the GC gets to it, so it does
            # not outlive this service (and log reconnect failures once the broker is gone).
            self._producer = None
        await self.impl.aclose()
        await self.ledger.close()
        self._kx.shutdown(wait=False)

    # -- one message, one or more deliveries ---------------------------------------------------------

    async def _handle(self, key: tuple[str, int], offset: int, tasks: list[Task], replayed: bool) -> None:
        try:
            if len(tasks) == 1:
                await self._deliver(tasks[0], replayed)  # the common case: no gather, no extra task
            else:
                await asyncio.gather(*(self._deliver(t, replayed) for t in tasks))
            self._finish(key, offset)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the ledger or the broker failed: stop, leave the offset uncommitted
            log.error("%s: cannot complete a delivery (%s: %s); stopping", self.group, type(exc).__name__, exc)
            self._fatal = exc
        finally:
            self._slots.release()

    async def _deliver(self, task: Task, replayed: bool) -> None:
        """One delivery; copies of the same delivery id in this process run one after the other."""
        did = task["delivery_id"]
        while (running := self._inflight_ids.get(did)) is not None:
            await asyncio.shield(running)
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight_ids[did] = gate
        try:
            await self._deliver_once(task, replayed)
        finally:
            del self._inflight_ids[did]
            gate.set_result(None)

    async def _deliver_once(self, task: Task, replayed: bool) -> None:
        receiver = task["receiver"]
        alert = task["alert"]
        if await self.ledger.is_sent(task["delivery_id"]):
            self.stats.duplicates += 1
            NOTIFICATIONS.labels(channel=self.channel, outcome="duplicate").inc()
            await self._outcome(task, "duplicate", None, None, 0.0)
            return
        guards = self.guards
        disabled = guards.is_disabled(receiver) and not replayed
        have_slot = False if disabled else await guards.acquire(receiver)
        started = time.monotonic()
        status: int | None = None
        error: DeliveryError | None = None
        probe = False
        try:
            if disabled:
                error = PermanentDeliveryError("receiver_disabled", "receiver disabled after 410 Gone")
            elif not have_slot:
                error = RetryableDeliveryError("receiver_busy", "too many deliveries in flight to this receiver")
            elif not await guards.admit(receiver):
                error = RetryableDeliveryError("circuit_open", "circuit breaker open")
            else:
                probe = True
                try:
                    status = await self.impl.send(task)
                except asyncio.CancelledError:
                    guards.abandoned(receiver)
                    raise
                except Exception as exc:
                    error = from_exception(exc)
        finally:
            if have_slot:
                guards.release(receiver)
        task = dict(task)
        task["attempt"] = int(task["attempt"]) + 1
        if not task["first_attempt_at"]:
            task["first_attempt_at"] = now_ms()
        latency = time.monotonic() - started
        if probe:
            guards.record(receiver, error)
        if error is None:
            if replayed:
                guards.enable(receiver)
            await self.ledger.mark_sent(
                SentRow(
                    task["delivery_id"],
                    self.channel,
                    receiver,
                    alert["alert_id"],
                    alert["fingerprint"],
                    alert["tenant"],
                    task["attempt"],
                    status,
                )
            )
            self.stats.sent += 1
            NOTIFICATIONS.labels(channel=self.channel, outcome="sent").inc()
            if alert.get("emitted_at"):
                NOTIFICATION_LATENCY.labels(channel=self.channel).observe(
                    max(0.0, time.time() - alert["emitted_at"] / 1000)
                )
            await self._outcome(task, "sent", status, None, latency)
            return
        if error.reason == "gone":
            guards.disable(receiver)
        self.stats.by_reason[error.reason] = self.stats.by_reason.get(error.reason, 0) + 1
        task["last_reason"] = error.reason
        task["last_error"] = error_text(error.reason, error.detail)
        retry_after = error.retry_after if isinstance(error, RetryableDeliveryError) else None
        step = next_step(
            self.schedule,
            task["attempt"],
            now_ms(),
            permanent=isinstance(error, PermanentDeliveryError),
            retry_after=retry_after,
        )
        if step.tier is not None:
            task["not_before"] = step.not_before_ms
            self._produce(
                self.topics.retry(self.channel, step.tier),
                alert["fingerprint"],
                self.codec.encode(DELIVERY_TASK, task),
                retry_headers(task["attempt"], step.not_before_ms, error.reason, replayed),
            )
            self.stats.retried += 1
            RETRIES.labels(channel=self.channel, tier=str(step.tier)).inc()
            NOTIFICATIONS.labels(channel=self.channel, outcome="retrying").inc()
            await self._outcome(task, "retrying", error.status_code, error.reason, latency)
            return
        self._produce(
            self.topics.dlq(self.channel),
            alert["fingerprint"],
            self.codec.encode(DELIVERY_TASK, task),
            dlq_headers(task["attempt"], error.reason, task["last_error"], str(alert["severity"]), now_ms()),
        )
        self.stats.dead_lettered += 1
        DLQ_MESSAGES.labels(channel=self.channel).inc()
        outcome = "disabled" if error.reason in ("gone", "receiver_disabled") else "dead_lettered"
        NOTIFICATIONS.labels(channel=self.channel, outcome=outcome).inc()
        log.warning(
            "%s: %s alert %s to %s dead-lettered: %s",
            self.group,
            alert["severity"],
            alert["alert_id"],
            receiver,
            error.reason,
        )
        await self._outcome(task, "dead_lettered", error.status_code, error.reason, latency)

    async def _outcome(self, task: Task, outcome: str, status: int | None, reason: str | None, latency: float) -> None:
        record = outcome_record(task, self.channel, outcome, status, reason, latency, now_ms())
        self._produce(self.topics.deliveries, task["alert"]["fingerprint"], self.codec.encode(DELIVERY_OUTCOME, record))

    def _raw_to_dlq(self, msg: Message, reason: str) -> None:
        """An undecodable message: its bytes go to the DLQ with the reason, the offset moves on."""
        key = msg.key()
        self._produce(
            self.topics.dlq(self.channel),
            (key or b"").decode("utf-8", "replace"),
            msg.value() or b"",
            undecodable_headers(reason, msg.topic() or "", msg.partition() or 0, msg.offset() or 0),
        )
        DLQ_MESSAGES.labels(channel=self.channel).inc()
        log.warning(
            "%s: undecodable message at %s[%d]@%d: %s", self.group, msg.topic(), msg.partition(), msg.offset(), reason
        )
