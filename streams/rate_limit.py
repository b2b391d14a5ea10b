"""Per-tenant and per-tenant+severity rate limits on firing notifications.

Counts live in tumbling windows of event time keyed ``(scope, window start)``: the count for a
window is a pure function of the events in it, so every worker and every replay agrees. Over a
limit, ``critical`` alerts are still emitted — marked ``rate_limited`` — and everything else is
suppressed (the caller counts it as ``alertstream_alerts_suppressed_total{reason="rate_limit"}``).
Resolves never reach the limiter. Windows older than the current one are dropped by
:meth:`RateLimiter.expire`, so memory holds at most one window per active scope.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

from schemas.rules_config import RateLimitSection


@dataclass(frozen=True, slots=True)
class Admission:
    emit: bool
    rate_limited: bool


class RateLimiter:
    """``counts`` maps ``"tenant|severity|window_start"`` to a count; any mutable mapping works.

    The worker keeps the counts in process memory (a dict): events are partitioned by
    tenant + source, so no single partition sees all of a tenant's alerts and a partitioned table
    could not hold an exact per-tenant count. With N workers a tenant can get up to N x the limit,
    and a restart forgets at most one window. An exact limit needs the firing notifications
    repartitioned by tenant (an internal topic keyed by tenant, one owner per tenant) — not built.
    """

    def __init__(self, config: RateLimitSection, counts: MutableMapping[str, int] | None = None) -> None:
        self.config = config
        self.window_ms = int(config.window_seconds * 1000)
        self.counts: MutableMapping[str, int] = {} if counts is None else counts
        self.touched: set[str] = set()

    @property
    def enabled(self) -> bool:
        return self.config.per_tenant is not None or bool(self.config.per_tenant_severity)

    def _bump(self, key: str) -> int:
        count = self.counts.get(key, 0) + 1
        self.counts[key] = count
        self.touched.add(key)
        return count

    def admit(self, tenant: str, severity: str, at: int) -> Admission:
        """Count one firing notification of ``tenant`` at event time ``at`` and decide."""
        if not self.enabled:
            return Admission(True, False)
        start = at - at % self.window_ms
        over = False
        if self.config.per_tenant is not None:
            over |= self._bump(f"{tenant}|*|{start}") > self.config.per_tenant
        limit = self.config.per_tenant_severity.get(severity)  # type: ignore[call-overload]
        if limit is not None:
            over |= self._bump(f"{tenant}|{severity}|{start}") > limit
        if not over:
            return Admission(True, False)
        return Admission(severity == "critical", True)

    def expire(self, now_ms: int) -> list[str]:
        """Drop counts of windows that ended more than one window before ``now_ms``; returns their keys."""
        horizon = now_ms - 2 * self.window_ms
        gone = [k for k in list(self.counts) if int(k.rsplit("|", 1)[1]) < horizon]
        for key in gone:
            del self.counts[key]
        return gone
