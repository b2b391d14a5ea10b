"""What the lifecycle keeps and hands back — plain data shared by its modules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alertstream.streams.dedup import EpisodeState
from alertstream.streams.evaluator import AlertOut
from alertstream.streams.suppression import Hold

Row = list[Any]
#: The lifecycle fields of an episode as a new episode starts them (``action_at`` carries over: it
#: is what makes an action applied twice a no-op, whichever episode it met).
FRESH: dict[str, Any] = {
    "acked_at": 0,
    "acked_by": "",
    "held": "",
    "esc_step": 0,
    "esc_round": 0,
    "esc_due": 0,
    "nodata_at": 0,
}
#: (fingerprint, record template, now) -> (the hold or None, muted routes, escalation policy)
HoldCheck = Callable[[str, Mapping[str, Any], int], tuple[Hold | None, dict[str, str], str | None]]


@dataclass
class Entry:
    """The lifecycle table's value for a fingerprint with lifecycle work: the partition (to write
    it back where it belongs), the episode's last firing record as the template of the records the
    lifecycle derives, the escalation policy being walked, and the receivers it paged."""

    partition: int
    template: dict[str, Any]
    policy: str = ""
    paged: list[dict[str, str]] = field(default_factory=list)

    def to_value(self) -> list[Any]:
        return [self.partition, self.template, self.policy, self.paged]

    @classmethod
    def from_value(cls, value: Any) -> Entry | None:
        if not isinstance(value, list) or len(value) < 2 or not isinstance(value[1], dict):
            return None  # a seal record, or nothing
        policy = str(value[2]) if len(value) > 2 and value[2] else ""
        paged = list(value[3]) if len(value) > 3 and value[3] else []
        return cls(int(value[0]), value[1], policy, paged)


@dataclass
class Changes:
    """What one lifecycle step wants sent and written: the alerts first (acknowledged by the broker
    before anything is written), then episode rows, lifecycle entries, firing-view records."""

    alerts: list[AlertOut] = field(default_factory=list)
    writes: dict[str, tuple[int, Row | None]] = field(default_factory=dict)
    entries: dict[str, tuple[int, list[Any] | None]] = field(default_factory=dict)
    firing: dict[str, dict[str, str] | None] = field(default_factory=dict)
    suppressed: Counter[str] = field(default_factory=Counter)
    #: The same holds by (rule id, reason): the backtest reports them per rule.
    suppressed_by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (fingerprint, what happened): the tests' and the debug log's view of each decision
    decisions: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: Changes) -> None:
        self.alerts += other.alerts
        self.writes.update(other.writes)
        self.entries.update(other.entries)
        self.firing.update(other.firing)
        self.suppressed.update(other.suppressed)
        self.suppressed_by_rule.update(other.suppressed_by_rule)
        self.decisions += other.decisions

    def suppress(self, rule_id: str, reason: str) -> None:
        """One notification of ``rule_id`` held for ``reason`` (silenced, inhibited, muted, acknowledged)."""
        self.suppressed[reason] += 1
        self.suppressed_by_rule[(rule_id, reason)] += 1

    def end(self, fp: str, partition: int) -> None:
        """The episode is over: forget its entry, tell every worker it no longer fires."""
        self.entries[fp] = (partition, None)
        self.firing[fp] = None

    def keep(self, fp: str, entry: Entry) -> None:
        self.entries[fp] = (entry.partition, entry.to_value())

    def write(self, fp: str, partition: int, state: EpisodeState) -> None:
        self.writes[fp] = (partition, state.to_row())


def acked(state: EpisodeState) -> bool:
    return state.acked_at > 0
