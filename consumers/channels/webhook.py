"""Webhook channel: the alert as JSON, signed per Standard Webhooks (see consumers.signing)."""

from __future__ import annotations

import time

from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ResolvedReceiver
from alertstream.consumers.render import webhook_body
from alertstream.consumers.signing import sign_headers


def render(task: Task, receiver: ResolvedReceiver) -> tuple[bytes, dict[str, str]]:
    body = webhook_body(task["alert"], task["delivery_id"])
    # signed at each attempt: the timestamp is fresh, the webhook-id (delivery id) stays the same
    return body, sign_headers(task["delivery_id"], int(time.time()), body, receiver.signing)
