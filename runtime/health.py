"""Liveness and readiness of a pipeline process: ``/healthz`` and ``/readyz`` beside ``/metrics``.

Why not probe ``/metrics``: it is served from its own thread, so a consumer loop that is wedged (a
blocked event loop, a fetch loop stuck on an await) still answers it and stays "healthy" forever.
Here the loops report progress instead, and the probes judge that:

* **liveness** (``/healthz``): the process's loop calls :meth:`Health.beat` on every iteration
  (an idle loop iterates too: it polls with a timeout). ``/healthz`` answers 503 once there has been
  no beat for ``stall_after_s`` *while the process has work* (:meth:`Health.set_busy`: partitions
  assigned, flow not suspended for a rebalance or a table recovery). Restarting is what helps then.
* **readiness** (``/readyz``): named checks the process sets (:meth:`Health.set_check`), e.g.
  ``partitions`` (assigned), ``broker``, ``database``, ``schema_registry`` (not waiting out an
  outage). 503 while any check is false. A dependency being down makes a process unready, never
  unhealthy: restarting it would not bring the dependency back.

Both answer JSON naming every check, ``{"status": ..., "failing": [...], "checks": {name: {"ok":
..., "detail": ...}}}``. One HTTP server per process serves the three paths on the metrics port
(``ALERTSTREAM_METRICS_PORT`` / the per-process defaults in :mod:`alertstream.runtime.metrics`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

#: Default of ``ALERTSTREAM_HEALTH_STALL_SECONDS``: longer than any legitimate pause of a loop
#: (a deliver loop waiting for a free slot while every in-flight delivery runs into its receiver's
#: timeouts, at most 60 s connect + 60 s read; a rebalance callback flushing the producer, ≤ 30 s).
DEFAULT_STALL_S = 120.0

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class Health:
    """Progress and readiness of one process; written by its loop, read by the probe thread.

    Every write is one attribute or one dict entry (atomic under the GIL), so no lock is needed.
    """

    stall_after_s: float = DEFAULT_STALL_S
    clock: Callable[[], float] = time.monotonic
    _last_beat: float = field(init=False)
    _busy: bool = field(default=False, init=False)
    _checks: dict[str, tuple[bool, str]] = field(default_factory=dict, init=False)
    _assigned: frozenset[tuple[str, int]] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        self._last_beat = self.clock()
        self.partitions_changed()  # every process that probes is a consumer: not ready before it has some

    def beat(self) -> None:
        """The loop made progress (call it once per iteration)."""
        self._last_beat = self.clock()

    def set_busy(self, busy: bool) -> None:
        """Whether the process has work (assigned partitions), i.e. whether a silent loop is stuck."""
        if busy and not self._busy:
            self._last_beat = self.clock()  # the stall clock starts when work starts
        self._busy = busy

    def set_check(self, name: str, ok: bool, detail: str = "") -> None:
        """Set one readiness check (``detail`` says why when it is false; no secrets in it)."""
        self._checks[name] = (ok, detail)

    def partitions_changed(
        self, assigned: Iterable[tuple[str, int]] = (), revoked: Iterable[tuple[str, int]] = ()
    ) -> None:
        """A consumer's (incremental) assignment changed; call it once at start to register the
        ``partitions`` check. Sets the ``partitions`` check and :meth:`set_busy`."""
        now = (self._assigned - frozenset(revoked)) | frozenset(assigned)
        self._assigned = now
        self.set_check("partitions", bool(now), f"{len(now)} partitions assigned" if now else "no partitions assigned")
        self.set_busy(bool(now))

    @property
    def has_partitions(self) -> bool:
        return bool(self._assigned)

    def set_partitions(self, assigned: Iterable[tuple[str, int]]) -> None:
        """The whole assignment at once (Faust reports it that way)."""
        self.partitions_changed(assigned, revoked=self._assigned)

    def kafka_callbacks(self) -> dict[str, Any]:
        """confluent-kafka settings that keep the ``broker`` check current: librdkafka's statistics
        (every 5 s) say whether any broker connection is up; an all-brokers-down error clears it."""
        self.set_check("broker", False, "no broker connection yet")
        return {"stats_cb": self._on_stats, "error_cb": self._on_error, "statistics.interval.ms": 5000}

    def _on_stats(self, text: str) -> None:
        try:
            brokers = json.loads(text).get("brokers", {}).values()
        except ValueError:
            return
        up = [b for b in brokers if b.get("nodeid", -1) >= 0 and b.get("state") == "UP"]
        self.set_check("broker", bool(up), f"{len(up)} broker connections up" if up else "no broker connection up")

    def _on_error(self, err: Any) -> None:
        from confluent_kafka import KafkaError

        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self.set_check("broker", False, "all brokers down")

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        silent = self.clock() - self._last_beat
        stalled = self._busy and silent > self.stall_after_s
        if stalled:
            detail = f"no progress for {silent:.1f} s (limit {self.stall_after_s:g} s) while it has work"
        else:
            detail = f"last progress {silent:.1f} s ago" + ("" if self._busy else " (no work assigned)")
        return _report({"loop": (not stalled, detail)}, "alive", "stalled")

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        return _report(dict(self._checks), "ready", "not_ready")


def _report(checks: dict[str, tuple[bool, str]], good: str, bad: str) -> tuple[bool, dict[str, Any]]:
    failing = sorted(name for name, (ok, _) in checks.items() if not ok)
    body = {
        "status": bad if failing else good,
        "failing": failing,
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in sorted(checks.items())},
    }
    return not failing, body


def wsgi_app(health: Health) -> WsgiApp:
    """``/healthz`` and ``/readyz`` from ``health``; every other path is prometheus_client's /metrics."""
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in ("/healthz", "/readyz"):
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        ok, body = health.liveness() if path == "/healthz" else health.readiness()
        data = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        start_response("200 OK" if ok else "503 Service Unavailable", headers)
        return [data]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return  # probes every few seconds would flood the process log


def start_server(port: int, health: Health, addr: str = "0.0.0.0") -> WSGIServer:  # noqa: S104 - probed from outside the pod
    """Serve /metrics, /healthz and /readyz on ``addr:port`` from a daemon thread; returns the
    server (``server.server_port`` is the port when ``port`` was 0; ``shutdown()`` stops it)."""
    server = make_server(addr, port, wsgi_app(health), ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-health", daemon=True).start()
    return server
