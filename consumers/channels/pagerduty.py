"""PagerDuty channel: Events API v2 (dedup_key = fingerprint, trigger/resolve); 429 → retry."""

from __future__ import annotations

from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ResolvedReceiver
from alertstream.consumers.render import pagerduty_body
from alertstream.schemas.errors import PermanentDeliveryError


def render(task: Task, receiver: ResolvedReceiver) -> tuple[bytes, dict[str, str]]:
    if receiver.routing_key is None:
        raise PermanentDeliveryError("missing_secret", "no routing key")
    return pagerduty_body(task["alert"], receiver.routing_key.reveal(), task["delivery_id"]), {}
