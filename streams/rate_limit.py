"""Per-tenant and per-tenant+severity rate limits on firing notifications.

Counts live in tumbling windows of event time keyed ``tenant|severity|window_start`` (severity
``*`` for the per-tenant limit). Over a limit, ``critical`` alerts are still emitted — marked
``rate_limited`` — and everything else is suppressed (the caller counts it as
``alertstream_alerts_suppressed_total{reason="rate_limit"}``). Resolves never reach the limiter.

**One count across workers.** Events are partitioned by tenant + source, so a tenant's alerts
arise on many partitions and several workers. Each worker counts per *input partition* it owns
and publishes the changed counts after every batch to a compacted topic
(``alertstream.ratelimits``, key ``partition|window key``) that every worker follows; a tenant's
count is the sum over partitions. A partition's count therefore survives a restart or a
rebalance (its next owner continues from the published value), and N workers share one limit
instead of each granting it. Between two workers the view lags by about one batch (tens of
ms): a burst that hits several workers at the same instant can pass the limit by what each
admitted in that time. After a crash a few notifications may be counted twice (the count was
published, the dedup state not yet): limits err on the strict side, and ``critical`` is never
held back either way.

Windows older than the previous one are dropped by :meth:`WindowCounts.expire`, so memory holds
at most two windows per active scope and partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alertstream.schemas.rules_config import RateLimitSection


@dataclass(frozen=True, slots=True)
class Admission:
    emit: bool
    rate_limited: bool


@dataclass
class WindowCounts:
    """``window key -> {input partition: count}``; local increments plus counts read from the topic."""

    by_key: dict[str, dict[int, int]] = field(default_factory=dict)
    #: (window key, partition) counted here since the last :meth:`take_changes`.
    changed: set[tuple[str, int]] = field(default_factory=set)

    def bump(self, key: str, partition: int) -> int:
        """Count one here; returns the total over every partition."""
        per = self.by_key.setdefault(key, {})
        per[partition] = per.get(partition, 0) + 1
        self.changed.add((key, partition))
        return sum(per.values())

    def merge(self, key: str, partition: int, count: int) -> None:
        """A count published by a worker (maybe this one). Counts only grow within a window, so the
        larger value wins: a stale or echoed record never lowers what is known."""
        if count <= 0 or _window_start(key) is None:
            return
        per = self.by_key.setdefault(key, {})
        if count > per.get(partition, 0):
            per[partition] = count

    def take_changes(self) -> dict[tuple[str, int], int]:
        """The counts changed here since the last call, to publish."""
        out = {(k, p): self.by_key[k][p] for k, p in self.changed if k in self.by_key and p in self.by_key[k]}
        self.changed = set()
        return out

    def expire(self, horizon_ms: int) -> list[tuple[str, int]]:
        """Drop windows that started before ``horizon_ms``; returns the (key, partition) dropped."""
        gone: list[tuple[str, int]] = []
        for key in [k for k in self.by_key if (_window_start(k) or 0) < horizon_ms]:
            gone += [(key, p) for p in self.by_key.pop(key)]
        self.changed = {kp for kp in self.changed if kp[0] in self.by_key}
        return gone


def _window_start(key: str) -> int | None:
    try:
        return int(key.rsplit("|", 1)[1])
    except (IndexError, ValueError):
        return None


class RateLimiter:
    """Decides one firing notification at a time against :class:`WindowCounts` (shareable)."""

    def __init__(self, config: RateLimitSection, counts: WindowCounts | None = None) -> None:
        self.config = config
        self.window_ms = int(config.window_seconds * 1000)
        self.counts = WindowCounts() if counts is None else counts

    @property
    def enabled(self) -> bool:
        return self.config.per_tenant is not None or bool(self.config.per_tenant_severity)

    def admit(self, tenant: str, severity: str, at: int, partition: int = 0) -> Admission:
        """Count one firing notification of ``tenant`` at event time ``at`` (from ``partition``) and decide."""
        if not self.enabled:
            return Admission(True, False)
        start = at - at % self.window_ms
        over = False
        if self.config.per_tenant is not None:
            over |= self.counts.bump(f"{tenant}|*|{start}", partition) > self.config.per_tenant
        limit = self.config.per_tenant_severity.get(severity)  # type: ignore[call-overload]
        if limit is not None:
            over |= self.counts.bump(f"{tenant}|{severity}|{start}", partition) > limit
        if not over:
            return Admission(True, False)
        return Admission(severity == "critical", True)

    def expire(self, now_ms: int) -> list[tuple[str, int]]:
        """Drop counts of windows that ended more than one window before ``now_ms``."""
        return self.counts.expire(now_ms - 2 * self.window_ms)
