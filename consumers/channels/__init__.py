"""One module per channel, one contract: ``async send(task) -> int | None``.

``send`` returns the HTTP/SMTP status code of a successful delivery (for the record) or raises
:class:`~schemas.errors.RetryableDeliveryError` / :class:`~schemas.errors.PermanentDeliveryError`.
The retry/DLQ machinery in :mod:`consumers.deliver` is shared by all channels.
"""

from __future__ import annotations

from typing import Protocol

from consumers.model import Task


class Channel(Protocol):
    async def send(self, task: Task) -> int | None: ...

    async def aclose(self) -> None: ...
