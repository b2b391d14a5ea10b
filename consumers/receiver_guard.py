"""Per-receiver protection inside one deliver process: in-flight slots, circuit breaker, 410.

* **Slots**: at most ``max_in_flight_per_receiver`` deliveries to one receiver at a time. A task
  waits at most :data:`RECEIVER_WAIT_SECONDS` for one, then takes the retry path
  (``receiver_busy``): a backlog to a fast receiver just queues, while a slow receiver cannot hold
  the process's global slots for long.
* **Breaker** (:mod:`alertstream.consumers.breaker`): after N consecutive failures the receiver gets no
  attempts for a cool-down; tasks take the retry path (``circuit_open``). Then one probe goes
  out, and tasks arriving meanwhile wait briefly for its verdict.
* **Disabled**: a receiver that answered 410 Gone gets no attempts until a `dlq replay` of one of
  its tasks succeeds.

State is per process and in memory: a restart forgets it (consumers/README.md, Known limits).
"""

from __future__ import annotations

import asyncio
import logging
import time

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
_STATE_VALUE = {CLOSED: 0, OPEN: 1, HALF_OPEN: 2}

RECEIVER_WAIT_SECONDS = 5.0


class ReceiverGuards:
    def __init__(self, channel: str, settings: DeliverySection, group: str) -> None:
        self.channel = channel
        self.settings = settings
        self.group = group  # for log lines
        self._breakers: dict[str, Breaker] = {}
        self._disabled: set[str] = set()
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._verdicts: dict[str, asyncio.Event] = {}

    # -- slots ---------------------------------------------------------------------------------

    async def acquire(self, receiver: str) -> bool:
        """A delivery slot of this receiver; False after waiting RECEIVER_WAIT_SECONDS in vain."""
        sem = self._slots.get(receiver)
        if sem is None:
            sem = self._slots[receiver] = asyncio.Semaphore(self.settings.max_in_flight_per_receiver)
        if not sem.locked():
            await sem.acquire()
            return True
        try:
            async with asyncio.timeout(RECEIVER_WAIT_SECONDS):
                await sem.acquire()
            return True
        except TimeoutError:
            return False

    def release(self, receiver: str) -> None:
        self._slots[receiver].release()

    # -- breaker -------------------------------------------------------------------------------

    def _breaker(self, receiver: str) -> Breaker:
        b = self._breakers.get(receiver)
        if b is None:
            s = self.settings
            b = self._breakers[receiver] = Breaker(s.breaker_failures, s.breaker_cooldown_seconds)
        return b

    async def admit(self, receiver: str) -> bool:
        """May an attempt go to ``receiver`` now? False while its breaker is open.

        While a half-open breaker's one probe is out, wait (at most RECEIVER_WAIT_SECONDS) for
        its verdict instead of refusing at once: when a receiver comes back, the tasks that arrive
        together (a retry tier falling due) go through as soon as the probe succeeds, instead of
        spending a retry tier — or, on the last tier, landing in the DLQ — because of our own
        breaker.
        """
        breaker = self._breaker(receiver)
        deadline = time.monotonic() + RECEIVER_WAIT_SECONDS
        while not breaker.allow(time.monotonic()):
            remaining = deadline - time.monotonic()
            if breaker.state != HALF_OPEN or remaining <= 0:
                return False
            verdict = self._verdicts.setdefault(receiver, asyncio.Event())
            try:
                async with asyncio.timeout(remaining):
                    await verdict.wait()
            except TimeoutError:
                return False
        return True

    def abandoned(self, receiver: str) -> None:
        """An admitted attempt was cancelled before it had a verdict."""
        self._breaker(receiver).release()
        self._wake(receiver)

    def record(self, receiver: str, error: DeliveryError | None) -> None:
        """The verdict of an admitted attempt, for the breaker."""
        breaker = self._breaker(receiver)
        if error is None or (isinstance(error, PermanentDeliveryError) and error.reason != "gone"):
            breaker.success()  # the receiver answered; a 4xx is about the task, not its health
        elif error.reason == "config_behind":
            breaker.release()  # nothing was sent: this process has not read the receiver's config yet
        else:
            breaker.failure(time.monotonic())
        BREAKER_STATE.labels(channel=self.channel, receiver=receiver).set(_STATE_VALUE[breaker.state])
        self._wake(receiver)

    def _wake(self, receiver: str) -> None:
        """Tasks waiting for a probe's verdict look at the breaker again."""
        verdict = self._verdicts.pop(receiver, None)
        if verdict is not None:
            verdict.set()

    # -- 410 Gone ------------------------------------------------------------------------------

    def is_disabled(self, receiver: str) -> bool:
        return receiver in self._disabled

    def disable(self, receiver: str) -> None:
        self._disabled.add(receiver)
        RECEIVER_DISABLED.labels(channel=self.channel, receiver=receiver).set(1)
        log.error("%s: receiver %s answered 410 Gone: disabled until a replay succeeds", self.group, receiver)

    def enable(self, receiver: str) -> None:
        """A replayed delivery to ``receiver`` succeeded: it takes tasks again."""
        if receiver in self._disabled:
            self._disabled.discard(receiver)
            RECEIVER_DISABLED.labels(channel=self.channel, receiver=receiver).set(0)
            log.warning("%s: receiver %s re-enabled by a successful replay", self.group, receiver)
