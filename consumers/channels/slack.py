"""Slack channel: incoming-webhook JSON (text fallback + Block Kit), same HTTP safety as webhooks."""

from __future__ import annotations

from consumers.channels.http_base import post
from consumers.http import HttpClients
from consumers.model import Task
from consumers.receivers import ReceiverBook
from consumers.render import slack_body


class SlackChannel:
    def __init__(self, book: ReceiverBook, clients: HttpClients, max_retry_after: float = 3600.0) -> None:
        self.book, self.clients, self.max_retry_after = book, clients, max_retry_after

    async def send(self, task: Task) -> int | None:
        receiver = self.book.for_task(task)
        body = slack_body(task["alert"], receiver.config.link_template)
        return await post(self.clients, receiver, body, {}, self.max_retry_after)

    async def aclose(self) -> None:
        await self.clients.aclose()
