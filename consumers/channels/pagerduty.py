"""PagerDuty channel: Events API v2 (dedup_key = fingerprint, trigger/resolve); 429 → retry."""

from __future__ import annotations

from consumers.model import Task
from consumers.receivers import ResolvedReceiver
from consumers.render import pagerduty_body
from schemas.errors import PermanentDeliveryError


def render(task: Task, receiver: ResolvedReceiver) -> tuple[bytes, dict[str, str]]:
    if receiver.routing_key is None:
        raise PermanentDeliveryError("missing_secret", "no routing key")
    return pagerduty_body(task["alert"], receiver.routing_key.reveal(), task["delivery_id"]), {}
