"""Serving the app with uvicorn: `alertstream api` in the foreground, or :class:`ApiServer` on a
thread (the tests and the benchmark talk to it over real HTTP on loopback).

uvicorn handles SIGTERM/SIGINT in the foreground: it stops accepting, lets in-flight requests
finish, runs the lifespan's shutdown (the pool closes) and exits.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType

import uvicorn

from alertstream.api.app import create_app
from alertstream.api.lifecycle_bus import BusConfig
from alertstream.api.limits import MAX_HEAD_BYTES
from alertstream.api.pipeline import Pipeline


def config(
    dsn: str,
    host: str,
    port: int,
    *,
    rate_limit: float,
    max_request_bytes: int,
    pool_size: int = 10,
    pipeline: Pipeline | None = None,
    max_alerts_bytes: int = 4 * 1024 * 1024,
    bus: BusConfig | None = None,
) -> uvicorn.Config:
    app = create_app(
        dsn,
        rate_limit=rate_limit,
        max_request_bytes=max_request_bytes,
        max_alerts_bytes=max_alerts_bytes,
        pool_size=pool_size,
        pipeline=pipeline,
        bus=bus,
    )
    app.state.stopping = threading.Event()  # set when the server starts to stop: endless streams end
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the process's logging (alertstream.cli) applies
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        limit_concurrency=1000,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )


class _ForegroundServer(uvicorn.Server):
    """uvicorn's server, except that SIGTERM/SIGINT end it with exit status 0: uvicorn re-raises the
    signal after its graceful shutdown, which makes a clean stop look like a kill to supervisors."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        _stopping(self)
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _stopping(server: uvicorn.Server) -> None:
    """Tell the app's streams (the console's live stream) to end: uvicorn waits for open responses
    before it shuts down, and a stream never ends on its own."""
    stopping = getattr(getattr(server.config.app, "state", None), "stopping", None)
    if isinstance(stopping, threading.Event):
        stopping.set()


def serve(
    dsn: str,
    host: str,
    port: int,
    *,
    rate_limit: float,
    max_request_bytes: int,
    max_alerts_bytes: int,
    pipeline: Pipeline | None = None,
    bus: BusConfig | None = None,
) -> None:
    _ForegroundServer(
        config(
            dsn,
            host,
            port,
            rate_limit=rate_limit,
            max_request_bytes=max_request_bytes,
            max_alerts_bytes=max_alerts_bytes,
            pipeline=pipeline,
            bus=bus,
        )
    ).run()


class ApiServer:
    """The API on a daemon thread on ``host``:``port`` (0 = a free port), until the context exits."""

    def __init__(
        self,
        dsn: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate_limit: float = 10_000.0,
        max_request_bytes: int = 65_536,
        pipeline: Pipeline | None = None,
        bus: BusConfig | None = None,
    ) -> None:
        # (uvicorn installs no signal handlers off the main thread: the owner stops it)
        self._server = uvicorn.Server(
            config(
                dsn, host, port, rate_limit=rate_limit, max_request_bytes=max_request_bytes, pipeline=pipeline, bus=bus
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        _stopping(self._server)
        self._server.should_exit = True
        self._thread.join(30)
