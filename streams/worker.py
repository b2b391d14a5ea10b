"""`alertstream worker`: the Faust app that turns events into alerts.

Thin I/O shell around :class:`alertstream.streams.evaluator.Evaluator`:

* raw bytes from ``events.metric`` and ``events.drift`` arrive in whole fetches
  (:mod:`alertstream.streams.batch_consumer`: Faust's per-message path alone caps below the throughput
  target); decoding per message never raises, bad input goes to ``events.invalid`` with reason
  headers, and the offset moves on. The agent on those topics only declares the subscription;
* episode state lives in a changelog-backed Faust table keyed by fingerprint; each key touched in
  a batch is written **once per batch**, to the changelog partition of the event that touched it
  (fingerprints derive from the event key, so a key's state is partition-local and a worker that
  takes over a partition recovers exactly its keys);
* a batch's alerts are sent and acknowledged *before* its state writes (which record them as
  sent) and before the batch is acked: a crash in between re-emits them with the same
  ``alert_id``, never loses them. Invalid records and state go out through Faust's buffered
  producer (``send_soon``), flushed before every offset commit: at-least-once, and the state
  machine's per-fingerprint watermark turns redelivered events into no-ops;
* the config comes from the compacted config topic (:mod:`alertstream.streams.config_feed`) and is swapped in
  between batches; a timer expires idle state (bounded memory).

Never ``exactly_once``: aiokafka cannot get a producer id from the local broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import faust

from alertstream.runtime import event_loop
from alertstream.runtime.codecs import RegistryWait
from alertstream.runtime.health import Health
from alertstream.runtime.kafka_clients import connection, linger_ms
from alertstream.runtime.topic_follower import TopicFollower
from alertstream.schemas import codec as c
from alertstream.schemas import topics as t
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import AlertstreamConfig, supersedes
from alertstream.streams.batch_consumer import BatchApp
from alertstream.streams.changelog_seal import ChangelogSeal
from alertstream.streams.config_feed import ConfigFeed
from alertstream.streams.evaluator import BatchResult, Compiled, Evaluator
from alertstream.streams.external_alerts import ExternalEvaluator, evaluate
from alertstream.streams.external_timer import EndTimes
from alertstream.streams.faust_connection import broker_settings
from alertstream.streams.faust_lag import install_lag_export
from alertstream.streams.ingest import ExternalIngest, Ingest, Invalid, InvalidSummary
from alertstream.streams.lifecycle_shell import LifecycleShell
from alertstream.streams.sanitise import install_log_redaction

log = logging.getLogger(__name__)

#: Expiry of idle state: every tick looks at the next EXPIRY_SLICE keys (bounded time on the loop;
#: ~3 ms measured), so a sweep of 100k keys takes 50 ticks.
EXPIRY_INTERVAL_S = 1.0
EXPIRY_SLICE = 2000
#: Firing external alerts whose end passed are resolved by this timer (streams.external_timer): per
#: tick, the next END_SLICE keys of its sweep are looked at and at most END_SLICE ended alerts resolved.
END_INTERVAL_S = 1.0
END_SLICE = 2000
#: Rate-limit windows (a handful per tenant) are dropped on their own, slower timer.
RATE_EXPIRY_INTERVAL_S = 60.0
#: At most one log line per this interval summarises what went to events.invalid (and the latest).
INVALID_LOG_INTERVAL_S = 10.0
#: Buffered producer messages (mostly state writes) a batch may leave pending: see _start_feed.
CHANGELOG_BACKLOG = 5_000
SEAL_INTERVAL_S = 1.0
#: How long a starting worker reads the config topic before deciding whether its file is newer.
CONFIG_CATCH_UP_S = 15.0
#: Fault injection for tests (never set in production): ``ALERTSTREAM_TEST_FAULT=crash-after-state-write``
#: makes the worker exit right after a batch's state writes have reached the broker.
FAULT_ENV = "ALERTSTREAM_TEST_FAULT"
FAULT_CRASH_AFTER_STATE_WRITE = "crash-after-state-write"
FAULT_EXIT_CODE = 86


class PartitionedTable(faust.Table):  # type: ignore[type-arg]
    """A Table whose changelog partition is chosen by the caller, not by "the current event".

    Faust picks the changelog partition from the event being iterated, which in a batch is the
    *last* event of the batch; we write after the batch, so the partition is set per key.
    """

    write_partition: int | None = None

    def partition_for_key(self, key: Any) -> int | None:
        return self.write_partition


class WorkerApp:
    """The Faust app and its agent for one topic prefix (unique app id / consumer group)."""

    def __init__(
        self,
        bootstrap: str,
        topics: t.TopicNames,
        config: AlertstreamConfig,
        *,
        publish: bool = True,
        app_id: str | None = None,
        codec: Codec,
        health: Health | None = None,
    ) -> None:
        from alertstream.runtime import metrics  # the contract metrics, defined once

        self.metrics = metrics
        self.bootstrap = bootstrap
        self.topics = topics
        self.initial = config
        self.publish = publish
        partitions = (config.topics.overrides.get(t.EVENTS_METRIC) or config.topics).partitions or 6
        app_name = app_id or f"alertstream-worker-{topics.prefix.strip('.') or 'default'}"
        # Faust makes a data folder even for in-memory tables (the changelog is the state; nothing
        # is kept there): a private temporary one, removed when the worker stops (run_worker) —
        # not the working directory (read-only in a hardened container; it filled test checkouts)
        self.datadir = Path(tempfile.mkdtemp(prefix=f"{app_name}-data-"))
        self.app = BatchApp(
            app_name,
            broker=f"kafka://{bootstrap}",
            store="memory://",
            datadir=str(self.datadir),
            broker_session_timeout=6,
            broker_heartbeat_interval=1.5,
            topic_partitions=partitions,
            topic_replication_factor=config.topics.replication,
            consumer_auto_offset_reset="earliest",
            web_enabled=False,
            producer_linger_ms=linger_ms(),  # the one linger setting (runtime.kafka_clients)
            # The one size limit (topics.max_message_bytes) for what this worker sends, and what it
            # must be able to fetch; Faust's own defaults (1,000,000 / 1 MiB) ignored the config.
            producer_max_request_size=config.topics.max_message_bytes,
            consumer_max_fetch_size=max(config.topics.max_message_bytes, 1024**2),
            broker_commit_interval=1.0,
            **broker_settings(connection()),  # TLS/SASL: the same connection as every other client
        )
        self.max_message_bytes = config.topics.max_message_bytes
        self.fault = os.environ.get(FAULT_ENV, "")
        self.codec = codec  # from the settings (runtime.codecs): registry mode, the size limit
        self.ingest: dict[str, Ingest | ExternalIngest] = {
            topics.events_metric: Ingest(self.codec, drift=False),
            topics.events_drift: Ingest(self.codec, drift=True),
            topics.events_alerts: ExternalIngest(self.codec),
        }
        self.topic_label = {
            topics.events_metric: t.EVENTS_METRIC,
            topics.events_drift: t.EVENTS_DRIFT,
            topics.events_alerts: t.EVENTS_ALERTS,
        }
        self.evaluator = Evaluator(Compiled.from_config(config))
        # alerts from other systems (events.alerts): same state table, limiter, routes; resolved by
        # end time on a timer. The lock keeps a batch and the timer from interleaving on one key.
        self.external = ExternalEvaluator(self.evaluator)
        self.end_times = EndTimes()
        self.state_lock = asyncio.Lock()
        self.feed = ConfigFeed(bootstrap, topics.config)
        self.feed_generation = 0
        # Rate-limit counts of every worker (streams.rate_limit): read on the follower's thread,
        # merged on the event loop between batches.
        self.rate_inbox: deque[tuple[str, int, int]] = deque()
        self.rate_follower = TopicFollower(bootstrap, topics.rate_limits, self._on_rate_record, "rate-counts")
        self.rate_published: set[tuple[str, int]] = set()
        self.source = self.app.topic(
            topics.events_metric,
            topics.events_drift,
            topics.events_alerts,
            key_serializer="raw",
            value_serializer="raw",
        )
        self.invalid = self.app.topic(topics.events_invalid, key_serializer="raw", value_serializer="raw")
        self.rate_out = self.app.topic(topics.rate_limits, key_serializer="raw", value_serializer="raw")
        self.state: Any = self.app.tables.add(
            PartitionedTable(
                self.app,
                name="episodes",
                default=None,
                beacon=self.app.tables.beacon,
                partitions=partitions,
                schema=faust.Schema(key_serializer="json", value_serializer="json"),
            )
        )
        self.app.bulk_topics = frozenset(self.ingest)
        # the alert lifecycle (streams/lifecycle*.py): silences, inhibition, acks, escalation, timers
        self.lifecycle = LifecycleShell(
            self.app, self, bootstrap, topics, config, partitions, PartitionedTable, frozenset(self.ingest)
        )
        self.app.bulk_handler = self.lifecycle.locked(self.handle)
        self.health = health or Health()  # /healthz, /readyz (runtime.health)
        self.app.on_poll = self.health.beat
        # registry mode: a batch's schemas fetched (and Alert registered) before it is handled;
        # an outage holds the batch (not acked) instead of sending it to events.invalid
        self.registry = RegistryWait(codec, self.health, encodes=[(c.ALERT, topics.alerts)])
        self.app.bulk_prepare = self._schemas_ready
        self.app.on_partitions_assigned.connect(self._on_assigned)
        self.app.timer(1.0)(self._report_busy)
        install_lag_export(self.app, self.app.conf.id, set(self.ingest))  # alertstream_consumer_lag
        self.app.agent(self.source, name="evaluate")(self._evaluate)
        self.invalid_summary = InvalidSummary()
        self.seal = ChangelogSeal(self.app, self.state)
        self.app.timer(EXPIRY_INTERVAL_S)(self._expire)
        self.app.timer(END_INTERVAL_S)(self._resolve_ended)
        self.app.timer(RATE_EXPIRY_INTERVAL_S)(self._expire_counts)
        self.app.timer(INVALID_LOG_INTERVAL_S)(self._log_invalid)
        self.app.timer(SEAL_INTERVAL_S)(self.seal.seal_quiet)
        self.app.task(self._start_feed, on_leader=False)

    # -- lifecycle ----------------------------------------------------------------------------

    async def _start_feed(self) -> None:
        # State writes (and invalid records) are buffered; the batch consumer waits after each
        # batch until fewer than this are pending. Faust's default of 100 would throttle (and warn)
        # on every batch that touches more keys; much more lets the changelog lag far behind the
        # alerts it records, and SIGTERM then waits for Faust to flush it all (20k writes took
        # ~15 s on the loaded 2-core box).
        self.app.producer.buffer.max_messages = CHANGELOG_BACKLOG
        self.rate_follower.start()
        self.feed.start()
        self.lifecycle.start()
        if self.publish:
            await asyncio.get_running_loop().run_in_executor(None, self._publish_if_newer)

    def _publish_if_newer(self) -> None:
        """Publish the file's config unless the topic already has this version or a newer one."""
        from alertstream.streams.config_feed import StaleConfig, publish_config

        if not self.feed.wait_caught_up(CONFIG_CATCH_UP_S):
            log.warning("config topic not read to its end in %.0fs: publishing the file's config", CONFIG_CATCH_UP_S)
        try:
            publish_config(
                self.bootstrap,
                self.topics.config,
                self.initial.model_dump(mode="json", by_alias=True, exclude_unset=True),
                in_force=self.feed.version,
            )
        except StaleConfig as exc:
            log.warning("not publishing the config file: %s", exc)

    def _maybe_reconfigure(self) -> None:
        current = self.feed.current  # one read: generation and config belong together
        if current is not None and current.generation != self.feed_generation:
            self.feed_generation = current.generation
            if self.publish and not supersedes(current.compiled.version, self.evaluator.compiled.version):
                return  # an older version read before ours is published: keep the file's
            self.evaluator.reconfigure(current.compiled)

    async def _on_assigned(self, _sender: Any, /, *args: Any, signal: Any, **_kwargs: Any) -> None:
        """Faust's on_partitions_assigned signal: the whole new assignment (args[0])."""
        self.health.set_partitions((tp.topic, tp.partition) for tp in args[0] if tp.topic in self.ingest)

    async def _schemas_ready(self, batch: Sequence[Any]) -> bool:
        generation = self.app.consumer_generation_id
        return await self.registry.ready(
            (m.value for m in batch), lambda: self.app.should_stop or self.app.consumer_generation_id != generation
        )

    async def _report_busy(self) -> None:
        """The fetch loop legitimately waits while Faust suspends the flow (rebalance, table recovery)."""
        consumer: Any = self.app.consumer
        self.health.set_busy(self.health.has_partitions and consumer.flow_active)

    # -- the agent ------------------------------------------------------------------------------

    async def _evaluate(self, stream: Any) -> AsyncIterator[None]:
        """Declares the subscription; the batch consumer delivers these topics to :meth:`handle`."""
        async for _ in stream:  # pragma: no cover - only reached if bulk delivery were disabled
            yield None

    def _on_rate_record(self, key: bytes | None, value: bytes | None, _partition: int, _offset: int) -> None:
        """Follower thread: ``partition|window key`` -> count; tombstones (expired windows) skipped."""
        if key is None or value is None:
            return
        partition, _, window_key = key.decode().partition("|")
        self.rate_inbox.append((window_key, int(partition), int(value)))

    def _merge_rate_counts(self) -> None:
        counts = self.evaluator.counts
        inbox = self.rate_inbox
        while inbox:
            counts.merge(*inbox.popleft())

    async def handle(self, batch: Sequence[Any]) -> None:
        """One fetch of Faust messages: parse, evaluate, send the alerts, then write state once per key."""
        async with self.state_lock:
            await self._handle(batch)

    def _process(self, parsed: Sequence[tuple[int, Any]]) -> BatchResult:
        """The rules' events through the evaluator, received alerts through the external one."""
        return evaluate(self.evaluator, self.external, parsed, self.state.get)

    async def _resolve_ended(self) -> None:
        """Resolve the firing external alerts whose end time passed (streams.external_timer)."""
        state = self.state
        async with self.state_lock:
            self.end_times.sweep(state.keys, state.get, END_SLICE)
            due = self.end_times.due(int(time.time() * 1000), END_SLICE)
            if not due:
                return
            owned = {
                tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topics.events_alerts
            }
            mine = [fp for fp in due if (stored := state.get(fp)) and int(stored[0]) in owned]
            result = self.external.resolve_due(mine, state.get)
            if result.alerts or result.writes:
                await self._apply(result)

    async def _handle(self, batch: Sequence[Any]) -> None:
        self._maybe_reconfigure()
        self._merge_rate_counts()
        now = int(time.time() * 1000)
        parsed = []
        sources = []
        consumed: Counter[str] = Counter()
        for msg in batch:
            consumed[msg.topic] += 1
            item = self.ingest[msg.topic].parse(msg.key, msg.value, msg.topic, msg.partition, msg.offset, now)
            if isinstance(item, Invalid):
                self._send_invalid(item)
            else:
                parsed.append((msg.partition, item))
                sources.append(msg)
        for topic, count in consumed.items():
            self.metrics.EVENTS_CONSUMED.labels(topic=self.topic_label.get(topic, "other")).inc(count)
        if not parsed:
            return
        try:
            result = self.lifecycle.after_batch(parsed, self._process(parsed))
        except Exception:
            # A bug met by some valid-looking event must not crash-loop the partition: evaluate
            # one by one (process() changes nothing but rate-limit counts until its writes are
            # applied) and send the event(s) that fail to events.invalid.
            log.exception("batch evaluation failed; retrying event by event")
            for (partition, event), msg in zip(parsed, sources, strict=True):
                try:
                    single = self.lifecycle.after_batch([(partition, event)], self._process([(partition, event)]))
                except Exception as exc:
                    self._send_invalid(
                        Invalid(
                            "evaluation_failed",
                            type(exc).__name__,
                            msg.key,
                            msg.value,
                            msg.topic,
                            msg.partition,
                            msg.offset,
                        )
                    )
                else:
                    await self._apply(single)
            return
        await self._apply(result)

    async def _apply(self, result: BatchResult) -> None:
        """Produce the alerts and wait for their acknowledgements, *then* write each touched key once.

        The order is the guarantee: a state write records its alerts as sent (the replay of an
        event it covers is a no-op), so it must never reach the broker before them. A crash after
        the alerts and before the state re-emits them on replay, with the same deterministic
        ``alert_id`` (idempotent sinks drop the duplicate); the other order lost them for good.
        """
        m = self.metrics
        if result.alerts:
            emitted_at = time.time()
            messages = []
            emitted: Counter[tuple[str, str]] = Counter()
            encode, topic, latency = self.codec.encode, self.topics.alerts, m.EVENT_TO_ALERT.observe
            for alert in result.alerts:
                record = alert.record
                messages.append((alert.fingerprint.encode(), encode(c.ALERT, record, topic)))
                emitted[(record["severity"], record["status"])] += 1
                latency(max(0.0, emitted_at - alert.occurred_at / 1000))
            for (severity, status), count in emitted.items():  # one labelled child per pair, not per alert
                m.ALERTS_EMITTED.labels(severity=severity, status=status).inc(count)
            await self.confirm_alerts(messages)
        self.lifecycle.before_state_writes()  # lifecycle entries + firing view: after the alerts, before the rows
        state = self.state
        for fp, (partition, row) in result.writes.items():
            self.seal.wrote(partition)
            state.write_partition = partition
            if row is None:
                if fp in state:
                    del state[fp]
            else:
                state[fp] = [partition, row]
        self.end_times.note(result.writes)
        if self.fault == FAULT_CRASH_AFTER_STATE_WRITE and result.writes:
            await self._crash_after_flush({partition for partition, _ in result.writes.values()})
        for reason, count in result.suppressed.items():
            m.ALERTS_SUPPRESSED.labels(reason=reason).inc(count)
        for (window_key, partition), count in self.evaluator.counts.take_changes().items():
            self.rate_out.send_soon(key=f"{partition}|{window_key}".encode(), value=str(count).encode())
            self.rate_published.add((window_key, partition))

    async def confirm_alerts(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Send (key, value) records to ``alerts`` and return once the broker has acknowledged each
        (acks=all); a send that fails for good raises, and the batch is neither acked nor its state
        written (replayed after the restart)."""
        producer = self.app.producer
        topic = self.topics.alerts
        pending = [await producer.send(topic, key, value, None, None, None) for key, value in messages]
        await asyncio.gather(*pending)

    def _send_invalid(self, item: Invalid) -> None:
        key, value, headers = item.record(self.max_message_bytes)
        self.invalid.send_soon(key=key, value=value, headers=headers)
        self.metrics.EVENTS_INVALID.labels(reason=item.reason).inc()
        self.invalid_summary.add(item)

    async def _log_invalid(self) -> None:
        """One line per interval about events.invalid (redacted, like every log line here)."""
        line = self.invalid_summary.take(INVALID_LOG_INTERVAL_S)
        if line is not None:
            log.warning("%s", line)

    async def _expire(self) -> None:
        """One bounded slice of the expiry sweep (:meth:`Evaluator.expire_slice`)."""
        state = self.state
        watch = self.lifecycle.core.watch  # its lifecycle entry (if any) ends at the next tick
        for fp, partition in self.evaluator.expire_slice(state.keys, state.get, EXPIRY_SLICE):
            self.seal.expired(partition)
            state.write_partition = partition
            del state[fp]
            watch.add(fp)

    async def _expire_counts(self) -> None:
        for window_key, partition in self.evaluator.expire_counts():
            if (window_key, partition) in self.rate_published:  # a tombstone lets compaction drop it
                self.rate_published.discard((window_key, partition))
                self.rate_out.send_soon(key=f"{partition}|{window_key}".encode(), value=None)

    async def _crash_after_flush(self, partitions: set[int]) -> None:
        """The fault :data:`FAULT_CRASH_AFTER_STATE_WRITE`: make the state writes durable (sealed,
        so that recovery on the local broker reads them all), then die without any cleanup."""
        await self.seal.seal(partitions)
        log.warning("test fault %s: exiting", self.fault)
        os._exit(FAULT_EXIT_CODE)


def run_worker(
    bootstrap: str,
    topics: t.TopicNames,
    config: AlertstreamConfig,
    *,
    publish: bool = True,
    codec: Codec,
    health: Health | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (Faust's worker handles both and stops cleanly)."""
    install_log_redaction()  # no log line of this process carries PII patterns
    if event_loop.uvloop_wanted():  # every loop Faust creates (main, consumer thread) is uvloop's:
        with contextlib.suppress(ImportError):  # measured 10-15 % less CPU per emitted alert
            import mode.loop

            mode.loop.use("uvloop")
    worker = WorkerApp(bootstrap, topics, config, publish=publish, codec=codec, health=health)
    # Logging is the process's (runtime.log_setup: level and format from the settings): Faust keeps it.
    level = logging.getLogger().getEffectiveLevel()
    runner = faust.Worker(worker.app, loglevel=level, quiet=True, override_logging=False)
    # Faust's terminal spinner sets the *root logger* to DEBUG (to spin on every record) and it
    # stays there after start-up: every library's debug call then built a record and ran the
    # handlers (aiokafka logs one per message sent). It also writes terminal escape codes even when
    # stdout is a pod's log: they would be the one line of a JSON log that is not JSON.
    runner.spinner = None
    try:
        runner.execute_from_commandline()
    finally:
        shutil.rmtree(worker.datadir, ignore_errors=True)
