"""PagerDuty channel: Events API v2 (dedup_key = fingerprint, trigger/resolve); 429 → retry."""

from __future__ import annotations

from consumers.channels.http_base import post
from consumers.http import HttpClients
from consumers.model import Task
from consumers.receivers import ReceiverBook
from consumers.render import pagerduty_body
from schemas.errors import PermanentDeliveryError


class PagerDutyChannel:
    def __init__(self, book: ReceiverBook, clients: HttpClients, max_retry_after: float = 3600.0) -> None:
        self.book, self.clients, self.max_retry_after = book, clients, max_retry_after

    async def send(self, task: Task) -> int | None:
        receiver = self.book.for_task(task)
        if receiver.routing_key is None:
            raise PermanentDeliveryError("missing_secret", "no routing key")
        body = pagerduty_body(task["alert"], receiver.routing_key.reveal(), task["delivery_id"])
        return await post(self.clients, receiver, body, {}, self.max_retry_after)

    async def aclose(self) -> None:
        await self.clients.aclose()
