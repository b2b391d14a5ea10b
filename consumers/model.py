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


def log_ids(task: Task) -> dict[str, str]:
    """The ids a log line about ``task`` carries as ``extra`` (JSON lines show them as fields,
    runtime.log_setup): what an on-call engineer looks the notification up by. Ids only — never the
    alert's summary, labels or entity, which may hold what a receiver may see and a log may not."""
    found = task.get("alert")
    alert: dict[str, Any] = found if isinstance(found, dict) else {}
    ids = {
        "fingerprint": alert.get("fingerprint"),
        "alert_id": alert.get("alert_id"),
        "delivery_id": task.get("delivery_id"),
        "channel": task.get("channel"),
        "receiver": task.get("receiver"),
        "tenant": alert.get("tenant"),
    }
    return {name: str(value)[:128] for name, value in ids.items() if value is not None}


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
