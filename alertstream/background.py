"""A loop on a daemon thread with a cooperative stop: the demo producer and the dev tap use it."""

from __future__ import annotations

import threading


class BackgroundLoop:
    """Subclasses implement ``_run`` and return once ``self._stop`` is set."""

    thread_name = "background"

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError
