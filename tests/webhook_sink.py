"""A webhook receiver for pipeline tests: records every POSTed JSON body, answers 200 (or what
``status(body)`` says, e.g. a permanent 400 for some alerts)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class WebhookSink:
    """``with WebhookSink() as sink``: ``sink.url`` receives; ``sink.bodies`` is what arrived."""

    def __init__(self, status: Callable[[dict[str, Any]], int] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parsed = json.loads(body)
                sink.bodies.append(parsed)
                self.send_response(status(parsed) if status else 200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def __enter__(self) -> WebhookSink:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def entities(self) -> list[str]:
        """The alerts' entities (the events' sources), sorted."""
        return sorted(str(b["entity"]) for b in self.bodies)
