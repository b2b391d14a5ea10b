"""One module per channel, one contract: ``async send(task) -> int | None``.

``send`` returns the HTTP/SMTP status code of a successful delivery (for the record) or raises
:class:`~alertstream.schemas.errors.RetryableDeliveryError` /
:class:`~alertstream.schemas.errors.PermanentDeliveryError`.
The retry/DLQ machinery in :mod:`alertstream.consumers.deliver` is shared by all channels.
"""

from __future__ import annotations

from typing import Protocol

from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ReceiverBook
from alertstream.schemas.config import AlertstreamConfig


class Channel(Protocol):
    async def send(self, task: Task) -> int | None: ...

    async def aclose(self) -> None: ...


def build_channel(
    channel: str, config: AlertstreamConfig, transport: str = "aiohttp", book: ReceiverBook | None = None
) -> Channel:
    """The channel implementation for ``channel`` over ``book`` (default: the config's receivers,
    fixed; ``alertstream deliver`` passes a book that follows live config)."""
    from alertstream.consumers.channels import pagerduty, slack, webhook
    from alertstream.consumers.channels.email import EmailChannel
    from alertstream.consumers.channels.http_base import HttpChannel
    from alertstream.consumers.http import HttpClients

    if book is None:
        book = ReceiverBook(config.receivers, channel, config.version)
    if channel == "email":
        return EmailChannel(book)
    renders = {"webhook": webhook.render, "slack": slack.render, "pagerduty": pagerduty.render}
    if channel not in renders:
        raise ValueError(f"unknown channel {channel!r}")
    return HttpChannel(renders[channel], book, HttpClients(transport), config.delivery.max_retry_after_seconds)
