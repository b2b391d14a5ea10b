"""Delivery tasks: one alert to one receiver, as the Avro ``DeliveryTask`` record (a dict)."""

from __future__ import annotations

import hashlib
from typing import Any

Task = dict[str, Any]


def delivery_id(alert_id: str, channel: str, receiver: str) -> str:
    """Stable id of (alert, destination): the webhook-id, the ledger key, the e-mail Message-ID and
    ``custom_details.delivery_id`` at PagerDuty (whose ``dedup_key`` is the fingerprint, so that a
    trigger and its resolve meet)."""
    digest = hashlib.sha256(f"{alert_id}\x1f{channel}\x1f{receiver}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def tasks_for(alert: dict[str, Any], channel: str) -> list[Task]:
    """The tasks of ``channel`` for one alert: one per distinct receiver of that channel."""
    seen: set[str] = set()
    out: list[Task] = []
    for route in alert.get("routes") or []:
        if route.get("channel") != channel or route.get("receiver") in seen:
            continue
        seen.add(route["receiver"])
        out.append(
            {
                "delivery_id": delivery_id(alert["alert_id"], channel, route["receiver"]),
                "channel": channel,
                "receiver": route["receiver"],
                "alert": alert,
                "attempt": 0,
                "first_attempt_at": 0,
                "not_before": 0,
                "last_reason": None,
                "last_error": None,
            }
        )
    return out
