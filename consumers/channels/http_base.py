"""The HTTP channels' one mechanism: render a body for the task's receiver, POST it through the
SSRF-checked client with the receiver's timeouts, classify the response. Webhook, Slack and
PagerDuty differ only in their ``render`` function."""

from __future__ import annotations

from collections.abc import Callable

from alertstream.consumers.failures import check_response, from_exception
from alertstream.consumers.http import HttpClients
from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ReceiverBook, ResolvedReceiver
from alertstream.schemas.errors import PermanentDeliveryError

USER_AGENT = "alertstream/0.1"

#: (task, its receiver) -> (request body, extra headers); may raise a DeliveryError.
Render = Callable[[Task, ResolvedReceiver], tuple[bytes, dict[str, str]]]


class HttpChannel:
    def __init__(self, render: Render, book: ReceiverBook, clients: HttpClients, max_retry_after: float) -> None:
        self.render, self.book, self.clients, self.max_retry_after = render, book, clients, max_retry_after

    async def send(self, task: Task) -> int | None:
        receiver = self.book.for_task(task)
        body, headers = self.render(task, receiver)
        return await post(self.clients, receiver, body, headers, self.max_retry_after)

    async def aclose(self) -> None:
        await self.clients.aclose()


async def post(
    clients: HttpClients, receiver: ResolvedReceiver, body: bytes, headers: dict[str, str], max_retry_after: float
) -> int:
    if receiver.url is None:
        raise PermanentDeliveryError("invalid_address", "receiver has no URL")
    cfg = receiver.config
    url = receiver.url.reveal()
    all_headers = {"content-type": "application/json", "user-agent": USER_AGENT, **headers}
    try:
        response = await clients.post(
            url, body, all_headers, cfg.allow_private, cfg.connect_timeout_seconds, cfg.timeout_seconds
        )
    except Exception as exc:
        raise from_exception(exc) from None
    check_response(response, max_retry_after)
    return response.status_code
