"""Why each partition is paused: it resumes only when no reason is left.

Two things pause a partition of the deliver consumer: the head of a retry tier is not due yet
(``not_due``, released by a timer), and the database is unavailable (``database``, released when
it answers again). They overlap — a retry falls due during a database outage — so the partition is
resumed only once every reason is gone. A ``resume()`` that fails is tried again with
:func:`resume_backoff` instead of leaving the partition paused until the next rebalance.
"""

from __future__ import annotations

NOT_DUE = "not_due"
DATABASE = "database"

Key = tuple[str, int]


class PartitionHolds:
    def __init__(self) -> None:
        self._reasons: dict[Key, set[str]] = {}

    def hold(self, key: Key, reason: str) -> bool:
        """Add ``reason``; True when the partition was running (the caller pauses it)."""
        reasons = self._reasons.setdefault(key, set())
        first = not reasons
        reasons.add(reason)
        return first

    def release(self, key: Key, reason: str) -> bool:
        """Remove ``reason``; True when nothing holds the partition any more (the caller resumes it)."""
        reasons = self._reasons.get(key)
        if reasons is None or reason not in reasons:
            return False
        reasons.discard(reason)
        if reasons:
            return False
        del self._reasons[key]
        return True

    def is_held(self, key: Key) -> bool:
        return key in self._reasons

    def held_for(self, reason: str) -> list[Key]:
        return [k for k, reasons in self._reasons.items() if reason in reasons]

    def drop(self, key: Key) -> None:
        """The partition was revoked: forget it."""
        self._reasons.pop(key, None)

    def clear(self) -> None:
        self._reasons.clear()


def resume_backoff(failures: int) -> float:
    """Seconds before resume attempt ``failures + 1`` (0.1, 0.2, 0.4 ... at most 5)."""
    return float(min(5.0, 0.1 * 2 ** max(0, failures - 1)))
