"""Webhook channel: the alert as JSON, signed per Standard Webhooks (see consumers.signing)."""

from __future__ import annotations

import time

from consumers.channels.http_base import post
from consumers.http import HttpClients
from consumers.model import Task
from consumers.receivers import ReceiverBook
from consumers.render import webhook_body
from consumers.signing import sign_headers


class WebhookChannel:
    def __init__(self, book: ReceiverBook, clients: HttpClients, max_retry_after: float = 3600.0) -> None:
        self.book, self.clients, self.max_retry_after = book, clients, max_retry_after

    async def send(self, task: Task) -> int | None:
        receiver = self.book.for_task(task)
        body = webhook_body(task["alert"], task["delivery_id"])
        headers = sign_headers(task["delivery_id"], int(time.time()), body, receiver.signing)
        return await post(self.clients, receiver, body, headers, self.max_retry_after)

    async def aclose(self) -> None:
        await self.clients.aclose()
