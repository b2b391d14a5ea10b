"""When firing external alerts end: the index behind the worker's end-time timer.

A firing alert from another system resolves when its end time passes, even if nothing is ever
sent about it again (:mod:`alertstream.streams.external_alerts`). The end time lives in the
episode's state (changelogged), and this index says which states to look at when:

* every state write of a batch is noted (:meth:`EndTimes.note`): a heap of (end, fingerprint),
  so an alert this worker updated is resolved within a tick of its end;
* a **sweep** walks the table ``limit`` keys per tick (a snapshot of the keys, retaken when a
  sweep ends, like the expiry sweep) and notes the end of every state it reads, so states this
  worker did not write — recovered after a restart or a rebalance — are found within one sweep
  (keys / limit ticks);
* :meth:`EndTimes.due` pops the entries whose end has passed (at most ``limit`` per tick: no tick
  holds the event loop for long). An entry whose state moved on since is skipped by the caller,
  which re-reads the state (:meth:`ExternalEvaluator.resolve_due`); the newest end noted per
  fingerprint is the only one kept, so stale entries are dropped when they come up.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Mapping
from typing import Any

from alertstream.streams.dedup import EpisodeState

#: Index of ``ends_at`` in a state row (:meth:`EpisodeState.to_row`).
_ENDS_INDEX = EpisodeState._fields.index("ends_at")


def row_end(row: Any) -> int:
    """The end time of a stored state row (0: none, or not an external firing alert)."""
    if isinstance(row, list) and len(row) > _ENDS_INDEX and row[0] == "firing":
        end = row[_ENDS_INDEX]
        return end if isinstance(end, int) else 0
    return 0


class EndTimes:
    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._latest: dict[str, int] = {}
        self._sweep: list[str] = []

    def __len__(self) -> int:
        return len(self._latest)

    def _push(self, fp: str, end: int) -> None:
        if end and self._latest.get(fp) != end:
            self._latest[fp] = end
            heapq.heappush(self._heap, (end, fp))

    def note(self, writes: Mapping[str, tuple[int, list[Any] | None]]) -> None:
        """The state writes of a batch (fingerprint -> (partition, row or None))."""
        for fp, (_partition, row) in writes.items():
            end = row_end(row)
            if end:
                self._push(fp, end)
            else:
                self._latest.pop(fp, None)

    def sweep(self, keys: Callable[[], Collection[str]], get: Callable[[str], Any], limit: int) -> None:
        """Look at the next ``limit`` keys of the sweep and note the ends of firing external alerts."""
        if not self._sweep:
            self._sweep = list(keys())
        batch = self._sweep[-limit:]
        del self._sweep[-limit:]
        for fp in batch:
            stored = get(fp)
            if stored and isinstance(stored, list) and len(stored) == 2:
                self._push(fp, row_end(stored[1]))

    def due(self, now_ms: int, limit: int) -> list[str]:
        """Fingerprints whose noted end is not after ``now_ms`` (at most ``limit``), oldest first."""
        out: list[str] = []
        heap = self._heap
        while heap and heap[0][0] <= now_ms and len(out) < limit:
            end, fp = heapq.heappop(heap)
            if self._latest.get(fp) == end:
                del self._latest[fp]
                out.append(fp)
        return out
