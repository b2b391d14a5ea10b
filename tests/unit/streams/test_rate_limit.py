from __future__ import annotations

from alertstream.schemas.rules_config import RateLimitSection
from alertstream.streams.rate_limit import Admission, RateLimiter, WindowCounts
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
    assert limiter.counts.by_key == {}
    assert limiter.counts.take_changes() == {}  # nothing left to publish for an expired window


def test_counts_of_other_partitions_share_one_limit() -> None:
    """Two workers: each counts its own partitions and merges what the other published."""
    section = RateLimitSection(window_seconds=60, per_tenant=3)
    start = T0 - T0 % 60_000
    a, b = RateLimiter(section), RateLimiter(section)
    assert a.admit("t", "warning", start, partition=0).emit
    assert a.admit("t", "warning", start + 1, partition=0).emit
    for (key, partition), count in a.counts.take_changes().items():  # a publishes, b follows
        b.counts.merge(key, partition, count)
    assert b.admit("t", "warning", start + 2, partition=5) == Admission(True, False)  # 3rd of 3
    assert b.admit("t", "warning", start + 3, partition=5) == Admission(False, True)  # 4th: over
    assert b.admit("t", "critical", start + 4, partition=5) == Admission(True, True)  # marked, not dropped
    assert b.counts.take_changes() == {(f"t|*|{start}", 5): 3}  # only its own partition's count


def test_merge_keeps_the_larger_count_and_ignores_junk() -> None:
    counts = WindowCounts()
    key = f"t|*|{T0 - T0 % 60_000}"
    counts.merge(key, 1, 4)
    counts.merge(key, 1, 2)  # a stale record (e.g. an older one read after a newer) never lowers it
    counts.merge("no-window-start", 1, 9)
    counts.merge(key, 2, 0)
    assert counts.by_key == {key: {1: 4}}
    assert counts.bump(key, 1) == 5  # a new owner of partition 1 continues from the published count
    assert counts.take_changes() == {(key, 1): 5}
