"""Pure: where the live feed is in the audit log, so no change is skipped and none is sent twice.

The feed follows ``audit_log.id`` (an identity column: every state change the history sees, and
every API write, is one row). Ids are handed out when a row is inserted but become visible when
its transaction commits, so a reader can see id 11 before id 10: a cursor that simply moved past
the highest id seen would skip 10 for good. The cursor therefore remembers the **holes** — ids
below the highest one delivered that were not there when it looked — and keeps asking for them
for ``wait`` seconds. A hole that fills in that time is delivered then (late, never lost); one that
stays empty is forgotten: a rolled-back insert, or an ``ON CONFLICT DO NOTHING`` that consumed an id
(the store's idempotent re-reads do that), never commits a row.

Holes are kept as id ranges (a rolled-back batch of a thousand rows is one range, not a thousand
entries), at most ``max_ranges`` of them; past that the oldest are forgotten first. A transaction
that commits more than ``wait`` seconds after inserting its audit rows is the one case the feed can
miss; the store's batches commit in well under a second, and a console that reconnects reloads
its view anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Hole:
    low: int
    high: int  # inclusive
    noticed: float  # monotonic time it was first seen empty


@dataclass(frozen=True, slots=True)
class FeedCursor:
    #: every id at or below ``top`` has been delivered, or is one of ``holes``
    top: int
    holes: tuple[Hole, ...] = field(default=())

    def advance(
        self, found: Iterable[int], now: float, *, wait: float = 30.0, max_ranges: int = 256
    ) -> tuple[FeedCursor, list[int]]:
        """Take the ids a poll found (above ``top`` or inside a hole): the new cursor, and the ids
        to deliver now in ascending order (each id is delivered once)."""
        ids = sorted(set(found))
        fresh = [i for i in ids if i > self.top]
        filled = {i for i in ids if i <= self.top and self._in_hole(i)}
        holes: list[Hole] = []
        for hole in self.holes:
            if now - hole.noticed > wait:
                continue  # waited long enough: it will not commit
            holes.extend(_split(hole, filled))
        top = self.top
        for i in fresh:
            if i > top + 1:
                holes.append(Hole(top + 1, i - 1, now))
            top = i
        holes.sort(key=lambda h: h.low)
        if len(holes) > max_ranges:
            keep = sorted(holes, key=lambda h: (h.noticed, h.low))[len(holes) - max_ranges :]
            holes = sorted(keep, key=lambda h: h.low)
        return FeedCursor(top, tuple(holes)), sorted(filled) + fresh

    def _in_hole(self, i: int) -> bool:
        return any(h.low <= i <= h.high for h in self.holes)


def _split(hole: Hole, filled: set[int]) -> list[Hole]:
    """``hole`` without the ids in ``filled`` (zero, one or more ranges, same noticed time)."""
    inside = sorted(i for i in filled if hole.low <= i <= hole.high)
    if not inside:
        return [hole]
    out: list[Hole] = []
    low = hole.low
    for i in inside:
        if i > low:
            out.append(Hole(low, i - 1, hole.noticed))
        low = i + 1
    if low <= hole.high:
        out.append(Hole(low, hole.high, hole.noticed))
    return out
