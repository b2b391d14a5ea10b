"""The HTTP channels' one mechanism: render a body for the task's receiver, POST it through the
SSRF-checked client with the receiver's timeouts, classify the response. Webhook, Slack and
PagerDuty differ only in their ``render`` function."""

from __future__ import annotations

import functools
from collections.abc import Callable

import httpx

from alertstream.consumers.failures import check_response, from_exception
from alertstream.consumers.http import HttpClients
from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ReceiverBook, ResolvedReceiver
from alertstream.schemas.errors import PermanentDeliveryError
from alertstream.schemas.ssrf import static_refusal

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


@functools.lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)  # parsed once per receiver URL, not once per delivery


async def post(
    clients: HttpClients, receiver: ResolvedReceiver, body: bytes, headers: dict[str, str], max_retry_after: float
) -> int:
    if receiver.url is None:
        raise PermanentDeliveryError("invalid_address", "receiver has no URL")
    cfg = receiver.config
    url = receiver.url.reveal()
    refused = static_refusal(url, cfg.allow_private)  # before httpx parses odd IP spellings as "invalid"
    if refused is not None:
        raise PermanentDeliveryError("ssrf_refused", refused)
    timeout = {
        "connect": cfg.connect_timeout_seconds,
        "read": cfg.timeout_seconds,
        "write": cfg.timeout_seconds,
        "pool": cfg.timeout_seconds,
    }
    all_headers = {"content-type": "application/json", "user-agent": USER_AGENT, **headers}
    try:
        request = httpx.Request("POST", _url(url), content=body, headers=all_headers, extensions={"timeout": timeout})
        response = await clients.send(request, cfg.allow_private)
    except httpx.InvalidURL:
        raise PermanentDeliveryError("invalid_address", "invalid URL") from None
    except httpx.UnsupportedProtocol:
        raise PermanentDeliveryError("invalid_address", "unsupported URL scheme") from None
    except Exception as exc:
        raise from_exception(exc) from None
    check_response(response, max_retry_after)
    return response.status_code
