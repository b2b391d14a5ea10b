"""Request size limits as pure ASGI middleware: a body over ``max_bytes`` (by ``Content-Length``,
or counted as it streams) is answered 413, a query string over ``MAX_QUERY_BYTES`` 414, both with a
problem body before any route runs. (uvicorn itself refuses a request head over
``MAX_HEAD_BYTES``, with a plain 400: that limit is above ours, so ours is what clients meet.)"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from alertstream.api.problems import MEDIA_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


MAX_QUERY_BYTES = 8192
MAX_HEAD_BYTES = 65_536


class _TooLarge(Exception):
    pass


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """``larger``: (method, path) -> a body limit of its own (``POST /api/v2/alerts`` takes batches)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[tuple[str, str], int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope.get("method", ""), scope.get("path", "")), self.max_bytes)
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await _problem(send, 414, "URI Too Long", f"the query string is over {MAX_QUERY_BYTES} bytes")
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _problem(send, 413, "Content Too Large", f"the request body is over {limit} bytes")
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await _problem(send, 413, "Content Too Large", f"the request body is over {limit} bytes")
