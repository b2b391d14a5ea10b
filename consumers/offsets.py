"""Which offset of a partition may be committed when its messages finish out of order.

Deliveries of one partition run concurrently and finish in any order; committing the highest
finished offset would skip an unfinished one on a crash. The committable offset is therefore the
first message not yet finished (at-least-once).
"""

from __future__ import annotations

from collections import deque


class PartitionOffsets:
    """In-order completion tracking of one partition: the committable offset is the first unfinished."""

    def __init__(self) -> None:
        self._order: deque[int] = deque()
        self._done: set[int] = set()
        self.next_commit: int | None = None
        self.committed: int | None = None

    def add(self, offset: int) -> None:
        self._order.append(offset)

    def done(self, offset: int) -> None:
        self._done.add(offset)
        while self._order and self._order[0] in self._done:
            head = self._order.popleft()
            self._done.discard(head)
            self.next_commit = head + 1

    @property
    def uncommitted(self) -> int | None:
        """The offset to commit next, or None when everything finished is already committed."""
        return self.next_commit if self.next_commit is not None and self.next_commit != self.committed else None

    @property
    def in_flight(self) -> int:
        return len(self._order)
