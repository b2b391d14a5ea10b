from __future__ import annotations

from schemas.rules_config import RateLimitSection
from streams.rate_limit import Admission, RateLimiter
from tests.unit.streams.helpers import T0


def test_disabled_by_default() -> None:
    limiter = RateLimiter(RateLimitSection())
    assert all(limiter.admit("a", "info", T0) == Admission(True, False) for _ in range(1000))


def test_per_tenant_limit_suppresses_non_critical_and_marks_critical() -> None:
    limiter = RateLimiter(RateLimitSection(window_seconds=60, per_tenant=2))
    start = T0 - T0 % 60_000
    got = [
        limiter.admit("a", s, start + i) for i, s in enumerate(["warning", "warning", "warning", "critical", "info"])
    ]
    assert got == [
        Admission(True, False),
        Admission(True, False),
        Admission(False, True),
        Admission(True, True),
        Admission(False, True),
    ]
    assert limiter.admit("b", "warning", start) == Admission(True, False)  # other tenants unaffected
    assert limiter.admit("a", "warning", start + 60_000) == Admission(True, False)  # next tumbling window


def test_per_tenant_severity_limit() -> None:
    limiter = RateLimiter(RateLimitSection(per_tenant_severity={"info": 1}))
    assert limiter.admit("a", "info", T0).emit
    assert not limiter.admit("a", "info", T0 + 1).emit
    assert limiter.admit("a", "warning", T0 + 2).emit


def test_old_windows_expire() -> None:
    limiter = RateLimiter(RateLimitSection(window_seconds=60, per_tenant=5))
    limiter.admit("a", "info", T0)
    assert limiter.expire(T0 + 60_000) == []
    assert len(limiter.expire(T0 + 181_000)) == 1
    assert limiter.counts == {}
