"""Request metrics as pure ASGI middleware (no per-request task or stream, unlike Starlette's
BaseHTTPMiddleware): count and time every answer by route template, method and status."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

from alertstream.api.limits import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("alertstream_api_requests", "HTTP requests answered by the API.", ["route", "method", "status"])
LATENCY = Histogram(
    "alertstream_api_request_duration_seconds",
    "Time to answer an API request.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # the template, never the raw path
            REQUESTS.labels(route=route, method=scope["method"], status=str(status)).inc()
            LATENCY.labels(route=route).observe(time.perf_counter() - started)
