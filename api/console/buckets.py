"""Pure: the time buckets of a chart — a "nice" width for a range (about ``TARGET`` bars) and
every bucket start in it, so empty buckets are zeros rather than gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

TARGET = 48
NICE_SECONDS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)


def bucket_seconds(since: datetime, until: datetime, target: int = TARGET) -> int:
    """The smallest nice width that covers the range in about ``target`` buckets (one more is
    fine: a range a few milliseconds over a day keeps the day's width)."""
    span = max(1.0, (until - since).total_seconds())
    for width in NICE_SECONDS:
        if span / width <= target + 1:
            return width
    return NICE_SECONDS[-1]


def origin(since: datetime, width: int) -> datetime:
    """``since`` floored to a multiple of ``width`` since the Unix epoch (buckets line up across
    requests, so a refresh does not shift the bars)."""
    seconds = int(since.timestamp())
    return datetime.fromtimestamp(seconds - seconds % width, tz=UTC)


def starts(since: datetime, until: datetime, width: int) -> list[datetime]:
    first = origin(since, width)
    out = []
    at = first
    while at < until:
        out.append(at)
        at += timedelta(seconds=width)
    return out
