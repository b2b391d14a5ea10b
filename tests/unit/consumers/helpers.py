"""Shared fixtures of the consumers' unit tests."""

from __future__ import annotations

import json
from typing import Any


def alert(**over: Any) -> dict[str, Any]:
    a: dict[str, Any] = {
        "alert_id": "a-1",
        "tenant": "acme",
        "rule_id": "cpu-high",
        "rule_version": 3,
        "status": "firing",
        "severity": "critical",
        "fingerprint": "fp-1",
        "entity": "host-1",
        "summary": "CPU <above> 90% & rising",
        "details": json.dumps({"value": 97.5, "threshold": 90}),
        "labels": {"env": "prod"},
        "value": 97.5,
        "threshold": 90.0,
        "occurrence_count": 3,
        "suppressed_count": 1,
        "first_seen": 1_700_000_000_000,
        "last_seen": 1_700_000_060_000,
        "emitted_at": 1_700_000_060_100,
        "event_ids": ["e1"],
        "routes": [
            {"receiver": "ops", "channel": "webhook"},
            {"receiver": "chat", "channel": "slack"},
            {"receiver": "ops", "channel": "webhook"},
            {"receiver": "dev", "channel": "webhook"},
        ],
        "rate_limited": False,
    }
    a.update(over)
    return a
