"""The deliveries of one channel: one task → ledger → receiver → ledger, retry tier or DLQ.

:class:`Deliveries` is what :mod:`alertstream.consumers.deliver` runs for every task of a message;
it owns no Kafka consumer. Per task, in this order:

1. invalid (:mod:`alertstream.consumers.task_checks`) → DLQ ``invalid_task``; receiver disabled
   (410) and not a replay → DLQ ``receiver_disabled``;
2. a ticket from the receiver's lane (:mod:`alertstream.consumers.receiver_guard`): waiting there
   for the breaker, a slot or an earlier notification of the same alert is not an attempt; a full
   lane defers the task to a retry tier, attempt unchanged;
3. the ledger: delivered already → ``duplicate``; a newer notification of the same alert already
   reached this receiver → ``superseded`` (never sent after it);
4. the database gate is open (nothing is sent that could not be recorded), then ``send``;
5. success → ledger row, outcome ``sent``; failure → next tier or the DLQ.

Everything produced for the task is acknowledged before this returns (the caller commits after).
A record over the size limit is set aside in the DLQ by reference instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from alertstream.consumers.acked_producer import AckedProducer, TooLarge, record_size
from alertstream.consumers.channels import Channel, as_delivered
from alertstream.consumers.database_gate import DatabaseGate, describe
from alertstream.consumers.failures import from_exception
from alertstream.consumers.ledger import Ledger, LedgerState, Lookup, SentRow, is_outage
from alertstream.consumers.model import Task, log_ids
from alertstream.consumers.receiver_guard import ReceiverGuards, Ticket
from alertstream.consumers.retry_tiers import Schedule, next_step, wait_step
from alertstream.consumers.task_checks import field_problem
from alertstream.consumers.task_messages import (
    HEADER_DELIVERY_ID,
    Headers,
    dlq_headers,
    error_text,
    outcome_record,
    retry_headers,
    set_aside,
    source_headers,
)
from alertstream.runtime.metrics import DLQ_MESSAGES, IN_FLIGHT, NOTIFICATIONS, RETRIES, observe_delivered
from alertstream.schemas.codec import DELIVERY_OUTCOME, DELIVERY_TASK, Codec
from alertstream.schemas.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from alertstream.schemas.topics import TopicNames

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Stats:
    """Counts for tests and the benchmark (the metrics carry the same numbers)."""

    sent: int = 0
    retried: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    superseded: int = 0
    deferred: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """Where the message a task came from was read: the reference a set-aside record keeps."""

    topic: str
    partition: int
    offset: int
    tier: int
    replayed: bool = False


class Job:
    """One message being handled: its share of the process-wide in-flight limit, given back once
    (when the job ends, or as soon as one of its tasks parks in a receiver lane)."""

    __slots__ = ("_release", "active", "handle", "waiting")

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release
        self.handle: asyncio.Task[None] | None = None
        self.waiting = 0  # tasks parked in a lane
        self.active = 0  # tasks holding a ticket (possibly sending)

    def release_slot(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()

    @property
    def only_waiting(self) -> bool:
        """Nothing of it is on the wire: cancelling it sends nothing twice."""
        return self.waiting > 0 and self.active == 0


class LedgerRefused(Exception):
    """The database refused this task's row (not an outage)."""


class Deliveries:
    def __init__(
        self,
        channel: str,
        impl: Channel,
        schedule: Schedule,
        topics: TopicNames,
        codec: Codec,
        ledger: Ledger,
        guards: ReceiverGuards,
        database: DatabaseGate,
        max_message_bytes: int,
        group: str,
    ) -> None:
        self.channel, self.impl, self.schedule, self.topics, self.codec = channel, impl, schedule, topics, codec
        self.ledger, self.guards, self.database = ledger, guards, database
        self.max_message_bytes = max_message_bytes
        self.group = group
        self.stats = Stats()
        self.producer: AckedProducer | None = None
        # the children of the per-notification metrics, looked up once (labels() is not free)
        self._sent_total = NOTIFICATIONS.labels(channel=channel, outcome="sent")
        self._in_flight = IN_FLIGHT.labels(channel=channel)

    # -- one task ------------------------------------------------------------------------------

    async def deliver(self, job: Job, task: Task, source: Source, problem: str | None = None) -> None:
        receiver = task["receiver"]
        problem = problem or field_problem(task)
        if problem is not None:
            await self._dead_letter(task, PermanentDeliveryError("invalid_task", problem), source, 0.0)
            return
        if self.guards.is_disabled(receiver) and not source.replayed:
            error = PermanentDeliveryError("receiver_disabled", "receiver disabled after 410 Gone")
            await self._failed(_attempted(task), error, source, 0.0)
            return
        key = (task["alert"]["fingerprint"], receiver)
        parked = False

        def on_park() -> None:
            nonlocal parked
            parked = True
            job.waiting += 1
            job.release_slot()

        try:
            ticket = await self.guards.enter(receiver, key, on_park)
        finally:
            if parked:
                job.waiting -= 1
        if ticket is None:
            await self._defer(task, source)
            return
        job.active += 1
        try:
            await self._attempt(ticket, task, source)
        finally:
            job.active -= 1
            ticket.finish()

    async def _attempt(self, ticket: Ticket, task: Task, source: Source) -> None:
        receiver, alert = task["receiver"], task["alert"]
        while True:
            try:
                state = await self._ledger_state(task)
            except LedgerRefused as exc:
                ticket.unused()
                await self._dead_letter(task, PermanentDeliveryError("invalid_task", str(exc)), source, 0.0)
                return
            if state.sent:
                ticket.unused()
                self.stats.duplicates += 1
                NOTIFICATIONS.labels(channel=self.channel, outcome="duplicate").inc()
                await self._outcome(task, "duplicate", None, None, 0.0)
                return
            if _superseded(state, alert):
                ticket.unused()
                self.stats.superseded += 1
                NOTIFICATIONS.labels(channel=self.channel, outcome="superseded").inc()
                log.info(
                    "%s: %s %s alert %s to %s superseded by a newer notification already delivered",
                    self.group,
                    alert["severity"],
                    alert["status"],
                    alert["alert_id"],
                    receiver,
                    extra=log_ids(task),
                )
                await self._outcome(task, "superseded", None, None, 0.0)
                return
            if self.database.is_open:
                break  # no await between this check and the send: nothing goes out unrecordable
        started = time.monotonic()
        error: DeliveryError | None = None
        try:
            with self._in_flight.track_inprogress():
                result = as_delivered(await self.impl.send(task))
        except asyncio.CancelledError:
            raise  # the ticket is released without a verdict by the caller
        except Exception as exc:
            error = from_exception(exc)
        ticket.sent(error)
        latency = time.monotonic() - started
        task = _attempted(task)
        if error is not None:
            # a failed probe: the receiver is still down, the task stays on its tier
            await self._failed(task, error, source, latency, advance=not ticket.probe)
            return
        if source.replayed:
            self.guards.enable(receiver)
        await self._record_sent(task, result.status)
        self.stats.sent += 1
        self._sent_total.inc()
        first = source.tier == 0 and int(task["attempt"]) == 1
        observe_delivered(self.channel, alert.get("emitted_at"), first, time.time())
        await self._outcome(task, "sent", result.status, result.note, latency)

    async def _ledger_state(self, task: Task) -> LedgerState:
        alert = task["alert"]
        lookup = Lookup(task["delivery_id"], self.channel, task["receiver"], alert["fingerprint"])
        while True:
            await self.database.wait_open()
            try:
                return await self.ledger.state(lookup)
            except Exception as exc:
                if not is_outage(exc):
                    raise LedgerRefused(f"the ledger refused the task: {describe(exc)}") from None
                self.database.failed(exc)

    async def _record_sent(self, task: Task, status: int | None) -> None:
        """The delivery went out: record it, waiting out a database outage (a re-send after a
        restart is the only other way the ledger could learn of it)."""
        alert = task["alert"]
        row = SentRow(
            task["delivery_id"],
            self.channel,
            task["receiver"],
            alert["alert_id"],
            alert["fingerprint"],
            alert["tenant"],
            task["attempt"],
            status,
            alert.get("last_seen"),
        )
        while True:
            await self.database.wait_open()
            try:
                await self.ledger.mark_sent(row)
                return
            except Exception as exc:
                if not is_outage(exc):
                    log.error(
                        "%s: delivered %s but the ledger refused its row: %s",
                        self.group,
                        row.delivery_id,
                        describe(exc),
                    )
                    return
                self.database.failed(exc)

    async def _failed(
        self, task: Task, error: DeliveryError, source: Source, latency: float, advance: bool = True
    ) -> None:
        """A failed attempt (``task`` has it counted): the next tier (or the same one, for a failed
        probe), or the DLQ."""
        if error.reason == "gone":
            self.guards.disable(task["receiver"])
        self.stats.by_reason[error.reason] = self.stats.by_reason.get(error.reason, 0) + 1
        task["last_reason"] = error.reason
        task["last_error"] = error_text(error.reason, error.detail)
        retry_after = error.retry_after if isinstance(error, RetryableDeliveryError) else None
        permanent = isinstance(error, PermanentDeliveryError)
        step = next_step(self.schedule, source.tier, now_ms(), permanent, retry_after, advance=advance)
        if step.tier is None:
            await self._dead_letter(task, error, source, latency)
            return
        task["not_before"] = step.not_before_ms
        headers = retry_headers(task["attempt"], step.not_before_ms, error.reason, source.replayed)
        if not await self._send_task(self.topics.retry(self.channel, step.tier), task, headers, source):
            return
        self.stats.retried += 1
        RETRIES.labels(channel=self.channel, tier=str(step.tier)).inc()
        NOTIFICATIONS.labels(channel=self.channel, outcome="retrying").inc()
        # the reason and status only: an error's detail may quote the receiver's response
        log.warning(
            "%s: attempt %d of alert %s to %s failed (%s%s): retry tier %d",
            self.group,
            task["attempt"],
            str(task["alert"]["alert_id"])[:64],
            str(task["receiver"])[:128],
            error.reason,
            f", HTTP {error.status_code}" if error.status_code else "",
            step.tier,
            extra=log_ids(task),
        )
        await self._outcome(task, "retrying", error.status_code, error.reason, latency)

    async def _defer(self, task: Task, source: Source) -> None:
        """The receiver's lane is full: wait on a retry tier instead, no attempt counted."""
        reason = self.guards.waiting_reason(task["receiver"])
        step = wait_step(self.schedule, source.tier, now_ms())
        assert step.tier is not None
        task = {**task, "not_before": step.not_before_ms}
        headers = retry_headers(task["attempt"], step.not_before_ms, reason, source.replayed)
        if await self._send_task(self.topics.retry(self.channel, step.tier), task, headers, source):
            self.stats.deferred += 1
            NOTIFICATIONS.labels(channel=self.channel, outcome="deferred").inc()
            await self._outcome(task, "deferred", None, reason, 0.0)

    async def _dead_letter(self, task: Task, error: DeliveryError, source: Source, latency: float) -> None:
        alert = task["alert"]
        detail = error_text(error.reason, error.detail)
        headers = dlq_headers(task["attempt"], error.reason, detail, str(alert["severity"]), now_ms())
        if error.reason == "invalid_task":
            headers += source_headers(source.topic, source.partition, source.offset)
        if not await self._send_task(self.topics.dlq(self.channel), task, headers, source):
            return
        self.stats.dead_lettered += 1
        self.stats.by_reason[error.reason] = self.stats.by_reason.get(error.reason, 0) + 1
        DLQ_MESSAGES.labels(channel=self.channel).inc()
        outcome = "disabled" if error.reason in ("gone", "receiver_disabled") else "dead_lettered"
        NOTIFICATIONS.labels(channel=self.channel, outcome=outcome).inc()
        log.warning(
            "%s: %s alert %s to %s dead-lettered: %s",
            self.group,
            alert["severity"],
            str(alert["alert_id"])[:64],
            str(task["receiver"])[:128],
            error.reason,
            extra=log_ids(task),
        )
        await self._outcome(task, "dead_lettered", error.status_code, error.reason, latency)

    # -- producing -----------------------------------------------------------------------------

    async def _send_task(self, topic: str, task: Task, headers: Headers, source: Source) -> bool:
        """The task on a retry tier or the DLQ; False when it was too large and set aside instead."""
        value = self.codec.encode(DELIVERY_TASK, task)
        key = str(task["alert"]["fingerprint"]).encode()
        if record_size(key, value, headers) <= self.max_message_bytes:
            try:
                await self._producer().send(topic, key, value, headers)
                return True
            except TooLarge:
                pass
        reference: Headers = [
            (HEADER_DELIVERY_ID, str(task["delivery_id"]).encode()),
            ("receiver", str(task["receiver"]).encode()),
        ]
        await self.set_aside(
            key, value, f"{len(value)} byte task for {topic} over the size limit", source, "too_large", reference
        )
        self.stats.dead_lettered += 1
        NOTIFICATIONS.labels(channel=self.channel, outcome="dead_lettered").inc()
        await self._outcome(task, "dead_lettered", None, "too_large", 0.0)
        return False

    async def set_aside(
        self, key: bytes | None, value: bytes, error: str, source: Source, reason: str, extra: Headers | None = None
    ) -> None:
        """Bytes that cannot be delivered (undecodable, too large) → the DLQ: whole when they fit
        the size limit, else a bounded prefix with where they came from and their size."""
        base: Headers = [("reason", reason.encode()), ("error", error[:500].encode())]
        base += source_headers(source.topic, source.partition, source.offset) + (extra or [])
        fits = record_size(key, value, base) <= self.max_message_bytes
        for keep_whole in (fits, False):
            body, more = set_aside(value, keep_whole)
            try:
                await self._producer().send(self.topics.dlq(self.channel), key, body, base + more)
                break
            except TooLarge:
                continue
        else:
            log.error("%s: could not set aside %s[%d]@%d", self.group, source.topic, source.partition, source.offset)
            return
        DLQ_MESSAGES.labels(channel=self.channel).inc()
        log.warning(
            "%s: %s message at %s[%d]@%d (%d bytes) set aside in the DLQ: %s",
            self.group,
            reason,
            source.topic,
            source.partition,
            source.offset,
            len(value),
            error[:200],
        )

    async def _outcome(self, task: Task, outcome: str, status: int | None, reason: str | None, latency: float) -> None:
        record = outcome_record(task, self.channel, outcome, status, reason, latency, now_ms())
        try:
            await self._producer().send(
                self.topics.deliveries,
                str(task["alert"]["fingerprint"]).encode(),
                self.codec.encode(DELIVERY_OUTCOME, record),
            )
        except TooLarge:  # an outcome is a few hundred bytes; only a broker limit below that gets here
            log.error(
                "%s: outcome of %s too large for the broker", self.group, task["delivery_id"], extra=log_ids(task)
            )

    def _producer(self) -> AckedProducer:
        assert self.producer is not None
        return self.producer


def _attempted(task: Task) -> Task:
    """``task`` with one more attempt counted (a request made, or a verdict reached without one)."""
    out = dict(task)
    out["attempt"] = int(task["attempt"]) + 1
    if not out["first_attempt_at"]:
        out["first_attempt_at"] = now_ms()
    return out


def _superseded(state: LedgerState, alert: dict[str, object]) -> bool:
    """A newer notification of this alert (a later ``last_seen``: the evaluator's order for one
    fingerprint) already reached the receiver: sending this one now would reverse their order."""
    mine = alert.get("last_seen")
    return state.newest_last_seen is not None and isinstance(mine, int) and mine < state.newest_last_seen
