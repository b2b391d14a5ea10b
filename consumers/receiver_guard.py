"""Per-receiver protection inside one deliver process: one lane per receiver.

A task enters its receiver's lane and gets a :class:`Ticket` once it may be sent:

* **Order**: tasks of one key (fingerprint, receiver) hold the ticket one after the other, in the
  order they entered, from the ledger lookup to the ledger write, so a receiver gets one alert's
  notifications in the order they were read (consumers/README.md, "Order per alert").
* **Slots**: at most ``max_in_flight_per_receiver`` tickets of a receiver are sending at a time.
* **Breaker** (:mod:`alertstream.consumers.breaker`): after N consecutive failures no ticket is
  given for a cool-down, then exactly one (the half-open probe); its verdict closes or re-opens.
* **Waiting is not an attempt**: a task that cannot go yet (no slot, breaker open, probe out, its
  key busy) is parked in the lane, first in first out, and goes as soon as it can — when the probe
  succeeds the whole lane drains at slot speed. ``on_park`` lets the caller give back the process-wide
  in-flight slot meanwhile, so a receiver that is down or slow never holds the others up. A lane
  parks at most ``park_limit`` tasks; beyond that :meth:`ReceiverGuards.enter` returns None and the
  caller puts the task back on a retry tier without counting an attempt.
* **Disabled**: a receiver that answered 410 Gone gets no attempts until a `dlq replay` of one of
  its tasks succeeds.

State is per process and in memory: a restart forgets it (consumers/README.md, Known limits).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable

from prometheus_client import Gauge

from alertstream.consumers.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from alertstream.schemas.errors import DeliveryError, PermanentDeliveryError
from alertstream.schemas.receivers_config import DeliverySection

log = logging.getLogger(__name__)

BREAKER_STATE = Gauge(
    "alertstream_circuit_breaker_state",
    "Circuit breaker per receiver: 0 closed, 1 open, 2 half-open.",
    ["channel", "receiver"],
)
RECEIVER_DISABLED = Gauge(
    "alertstream_receiver_disabled", "1 while a receiver is disabled after 410 Gone.", ["channel", "receiver"]
)
PARKED = Gauge(
    "alertstream_deliveries_parked",
    "Tasks waiting in a receiver's lane (breaker, slots, order).",
    ["channel", "receiver"],
)
_STATE_VALUE = {CLOSED: 0, OPEN: 1, HALF_OPEN: 2}

#: Tasks one receiver's lane may hold waiting (each keeps its alert in memory, a few KiB).
PARK_LIMIT = 10_000


class Ticket:
    """The right to send one task now: release the slot with :meth:`sent` (a verdict for the
    breaker) or :meth:`unused`, and the key with :meth:`finish` once the ledger has the result."""

    __slots__ = ("_done", "_lane", "_slot", "key", "probe")

    def __init__(self, lane: _Lane, key: Hashable, probe: bool) -> None:
        self._lane, self.key, self._slot, self._done = lane, key, True, False
        #: the half-open breaker's one probe: its failure says the receiver is still down
        self.probe = probe

    def sent(self, error: DeliveryError | None) -> None:
        if self._slot:
            self._slot = False
            self._lane.verdict(error)
            self._lane.give_back()

    def unused(self) -> None:
        """Nothing was sent (a duplicate, a superseded task, a cancellation): no verdict."""
        if self._slot:
            self._slot = False
            self._lane.breaker.release()
            self._lane.give_back()

    def finish(self) -> None:
        self.unused()
        if not self._done:
            self._done = True
            self._lane.key_done(self.key)


class _Lane:
    def __init__(self, channel: str, receiver: str, slots: int, breaker: Breaker) -> None:
        self.channel, self.receiver = channel, receiver
        self.free = slots
        self.breaker = breaker
        self.active: set[Hashable] = set()
        self.waiting: dict[Hashable, deque[asyncio.Future[Ticket]]] = {}
        self.ready: deque[Hashable] = deque()  # keys with a waiter and no ticket out, in order
        self.parked = 0
        self.timer: asyncio.TimerHandle | None = None
        # gauge children looked up once: they are set on every park and hand-out
        self._parked_gauge = PARKED.labels(channel=channel, receiver=receiver)
        self._state_gauge = BREAKER_STATE.labels(channel=channel, receiver=receiver)

    def can_go_now(self, key: Hashable) -> bool:
        if self.ready or key in self.active or key in self.waiting or self.free <= 0:
            return False
        return self._allow()

    def _allow(self) -> bool:
        state = self.breaker.state
        allowed = self.breaker.allow(time.monotonic())
        if self.breaker.state != state:
            self._gauge()
        return allowed

    def grant(self, key: Hashable) -> Ticket:
        self.active.add(key)
        self.free -= 1
        return Ticket(self, key, self.breaker.state == HALF_OPEN)

    def park(self, key: Hashable) -> asyncio.Future[Ticket]:
        fut: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        queue = self.waiting.setdefault(key, deque())
        queue.append(fut)
        if len(queue) == 1 and key not in self.active:
            self.ready.append(key)
        self.parked += 1
        self._parked_gauge.set(self.parked)
        return fut

    def forget(self, key: Hashable, fut: asyncio.Future[Ticket]) -> None:
        """A parked task was cancelled before it got its ticket."""
        queue = self.waiting.get(key)
        if queue is None or fut not in queue:
            return
        queue.remove(fut)
        self.parked -= 1
        self._parked_gauge.set(self.parked)
        if not queue:
            del self.waiting[key]
            if key in self.ready:
                self.ready.remove(key)

    def pump(self) -> None:
        """Hand out tickets to the waiting tasks, in order, while slots and the breaker allow."""
        while self.ready and self.free > 0:
            if not self._allow():
                self._arm_timer()
                return
            key = self.ready.popleft()
            queue = self.waiting[key]
            fut = queue.popleft()
            if not queue:
                del self.waiting[key]
            self.parked -= 1
            if fut.done():  # cancelled while parked
                self.breaker.release()
                if key in self.waiting:
                    self.ready.appendleft(key)
                continue
            fut.set_result(self.grant(key))
        self._parked_gauge.set(self.parked)

    def _arm_timer(self) -> None:
        """While open, wake up when the cool-down ends (a probe is out: its verdict wakes us)."""
        if self.breaker.state != OPEN or self.timer is not None:
            return
        delay = self.breaker.opened_at + self.breaker.cooldown_seconds - time.monotonic()
        self.timer = asyncio.get_running_loop().call_later(max(delay, 0.001), self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self.pump()

    def give_back(self) -> None:
        self.free += 1
        self.pump()

    def key_done(self, key: Hashable) -> None:
        self.active.discard(key)
        if key in self.waiting:
            self.ready.append(key)
        self.pump()

    def verdict(self, error: DeliveryError | None) -> None:
        breaker = self.breaker
        if error is None or (isinstance(error, PermanentDeliveryError) and error.reason != "gone"):
            breaker.success()  # the receiver answered; a 4xx is about the task, not its health
        elif error.reason == "config_behind":
            breaker.release()  # nothing was sent: this process has not read the receiver's config yet
        else:
            breaker.failure(time.monotonic())
        self._gauge()

    def _gauge(self) -> None:
        self._state_gauge.set(_STATE_VALUE[self.breaker.state])


class ReceiverGuards:
    def __init__(self, channel: str, settings: DeliverySection, group: str, park_limit: int = PARK_LIMIT) -> None:
        self.channel = channel
        self.settings = settings
        self.group = group  # for log lines
        self.park_limit = park_limit
        self._lanes: dict[str, _Lane] = {}
        self._disabled: set[str] = set()

    def _lane(self, receiver: str) -> _Lane:
        lane = self._lanes.get(receiver)
        if lane is None:
            s = self.settings
            breaker = Breaker(s.breaker_failures, s.breaker_cooldown_seconds)
            lane = self._lanes[receiver] = _Lane(self.channel, receiver, s.max_in_flight_per_receiver, breaker)
            # the receiver's series exist from its first task on (a dashboard sees 0 before the first 1)
            BREAKER_STATE.labels(channel=self.channel, receiver=receiver).set(_STATE_VALUE[breaker.state])
            RECEIVER_DISABLED.labels(channel=self.channel, receiver=receiver).set(int(receiver in self._disabled))
        return lane

    async def enter(self, receiver: str, key: Hashable, on_park: Callable[[], None]) -> Ticket | None:
        """A ticket to send to ``receiver`` for ``key``, after waiting in its lane as long as needed;
        None when the lane is full (the caller defers the task without counting an attempt)."""
        lane = self._lane(receiver)
        if lane.can_go_now(key):
            return lane.grant(key)
        if lane.parked >= self.park_limit:
            return None
        fut = lane.park(key)
        on_park()
        lane.pump()
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                fut.result().finish()  # the ticket came as the task was being cancelled
            else:
                lane.forget(key, fut)
            raise

    def waiting_reason(self, receiver: str) -> str:
        """Why a task for ``receiver`` could not be taken in (the reason of a deferral)."""
        return "receiver_busy" if self._lane(receiver).breaker.state == CLOSED else "circuit_open"

    def parked(self, receiver: str) -> int:
        return self._lane(receiver).parked

    # -- 410 Gone ------------------------------------------------------------------------------

    def is_disabled(self, receiver: str) -> bool:
        return receiver in self._disabled

    def disable(self, receiver: str) -> None:
        self._disabled.add(receiver)
        RECEIVER_DISABLED.labels(channel=self.channel, receiver=receiver).set(1)
        log.error(
            "%s: receiver %s answered 410 Gone: disabled until a replay succeeds",
            self.group,
            receiver,
            extra={"channel": self.channel, "receiver": receiver},
        )

    def enable(self, receiver: str) -> None:
        """A replayed delivery to ``receiver`` succeeded: it takes tasks again."""
        if receiver in self._disabled:
            self._disabled.discard(receiver)
            RECEIVER_DISABLED.labels(channel=self.channel, receiver=receiver).set(0)
            log.warning("%s: receiver %s re-enabled by a successful replay", self.group, receiver)
