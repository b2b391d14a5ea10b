"""Per-key request rate limit: a token bucket per API key, in this process's memory.

``rate`` requests per second on average, bursts of up to ``burst``. Pure (the clock is passed in),
so the arithmetic is tested without sleeping. Several API processes each apply the limit on their
own (documented): the limit protects the database from one key, it is not a billing meter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_KEYS = 100_000


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    rate: float
    burst: float
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def take(self, key: str, now: float) -> float:
        """0.0 when the request may go ahead, else the seconds until a token is available."""
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= MAX_KEYS:
                self.buckets.clear()  # bounded memory; only ever forgets debts
            bucket = self.buckets[key] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
