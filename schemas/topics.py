"""Topic names: the fixed ones from the contract, the per-channel retry/DLQ ones, and the prefix.

Every process derives names from here, so ``ALERTSTREAM_TOPIC_PREFIX`` applies everywhere at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHANNELS = ("webhook", "slack", "pagerduty", "email")

EVENTS_METRIC = "events.metric"
EVENTS_DRIFT = "events.drift"
EVENTS_INVALID = "events.invalid"
ALERTS = "alerts"
#: Compacted: the latest config (rules, routes, receivers) every worker reads as a global table.
CONFIG = "alertstream.config"
#: The key of every document on the config topic (compaction keeps the newest one).
CONFIG_KEY = b"config"
#: Compacted: rate-limit counts per input partition and window, shared by every worker.
RATE_LIMITS = "alertstream.ratelimits"
#: Compacted, key = silence id: every silence (create, update, expire), followed by every worker.
SILENCES = "alertstream.silences"
#: Compacted, key = fingerprint: the newest user action (acknowledge, unacknowledge, resolve).
ACTIONS = "alertstream.actions"
#: Compacted, key = fingerprint: the label sets of the firing alerts, every worker's view of the
#: inhibition sources (a tombstone when an episode ends).
FIRING = "alertstream.firing"
#: Append-only: every delivery outcome, for the PostgreSQL sink and audit.
DELIVERIES = "alerts.deliveries"
#: Records the store could not write (undecodable, or refused by PostgreSQL), original key and bytes
#: with reason headers; `alertstream store --replay-rejected` writes them once the cause is fixed.
STORE_REJECTED = "alerts.store.rejected"


_RETRY_TIER = re.compile(rf"^alerts\.({'|'.join(CHANNELS)})\.retry\.[1-9][0-9]*$")
_DLQ = re.compile(rf"^alerts\.({'|'.join(CHANNELS)})\.dlq$")


def is_retry_tier(base: str) -> bool:
    """``alerts.<channel>.retry.<n>`` (a contract name, without the prefix)."""
    return _RETRY_TIER.match(base) is not None


def is_dlq(base: str) -> bool:
    """``alerts.<channel>.dlq`` (a contract name, without the prefix)."""
    return _DLQ.match(base) is not None


@dataclass(frozen=True)
class TopicNames:
    """All topic names under one prefix."""

    prefix: str = ""

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def events_metric(self) -> str:
        return self.name(EVENTS_METRIC)

    @property
    def events_drift(self) -> str:
        return self.name(EVENTS_DRIFT)

    @property
    def events_invalid(self) -> str:
        return self.name(EVENTS_INVALID)

    @property
    def alerts(self) -> str:
        return self.name(ALERTS)

    @property
    def config(self) -> str:
        return self.name(CONFIG)

    @property
    def rate_limits(self) -> str:
        return self.name(RATE_LIMITS)

    @property
    def silences(self) -> str:
        return self.name(SILENCES)

    @property
    def actions(self) -> str:
        return self.name(ACTIONS)

    @property
    def firing(self) -> str:
        return self.name(FIRING)

    @property
    def deliveries(self) -> str:
        return self.name(DELIVERIES)

    @property
    def store_rejected(self) -> str:
        return self.name(STORE_REJECTED)

    def retry(self, channel: str, tier: int) -> str:
        """Retry tier ``tier`` (1-based) of ``channel``."""
        return self.name(f"alerts.{channel}.retry.{tier}")

    def dlq(self, channel: str) -> str:
        return self.name(f"alerts.{channel}.dlq")

    def by_alias(self, alias: str) -> str:
        """`alertstream publish` accepts a contract name (``events.metric``) with or without prefix."""
        if self.prefix and alias.startswith(self.prefix):
            return alias
        return self.name(alias)
