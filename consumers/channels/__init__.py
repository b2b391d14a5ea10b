"""One module per channel, one contract: ``async send(task) -> int | Delivered | None``.

``send`` returns the HTTP/SMTP status code of a successful delivery (for the record), or a
:class:`Delivered` when the success needs a note (an e-mail some recipients refused), or raises
:class:`~alertstream.schemas.errors.RetryableDeliveryError` /
:class:`~alertstream.schemas.errors.PermanentDeliveryError`.
The retry/DLQ machinery in :mod:`alertstream.consumers.deliver` is shared by all channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ReceiverBook
from alertstream.schemas.config import AlertstreamConfig


@dataclass(frozen=True)
class Delivered:
    """A delivery that succeeded, with the receiver's status code and an optional note.

    ``note`` is a bounded reason (consumers.failures.REASONS) carried as the ``reason`` of the
    ``sent`` outcome, ``detail`` a short secret-free text for the log."""

    status: int | None
    note: str | None = None
    detail: str = ""


def as_delivered(result: int | Delivered | None) -> Delivered:
    return result if isinstance(result, Delivered) else Delivered(result)


class Channel(Protocol):
    async def send(self, task: Task) -> int | Delivered | None: ...

    async def aclose(self) -> None: ...


def build_channel(
    channel: str, config: AlertstreamConfig, transport: str = "reqwest", book: ReceiverBook | None = None
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
