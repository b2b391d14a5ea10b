"""Circuit breaker per destination (receiver): a pure state machine with an injected clock.

closed --N consecutive failures--> open --cooldown elapsed--> half_open (one probe at a time)
half_open --probe succeeds--> closed;  half_open --probe fails--> open (cooldown restarts)

While open, tasks for the destination skip the network and go straight to the retry path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)


@dataclass
class Breaker:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = field(default=False)

    def allow(self, now: float) -> bool:
        """May an attempt go to the destination now? (In half-open, only one probe at a time.)"""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            if now - self.opened_at < self.cooldown_seconds:
                return False
            self.state = HALF_OPEN
            self.probing = False
        if self.probing:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        self.state = CLOSED
        self.failures = 0
        self.probing = False

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.failure_threshold:
            self.state = OPEN
            self.opened_at = now
        self.probing = False

    def release(self) -> None:
        """An allowed attempt ended without a verdict on the destination (e.g. cancelled)."""
        self.probing = False
