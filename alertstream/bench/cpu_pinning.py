"""One core for the server, the others for the client: how the ingest part compares servers.

Why: the issue's comparison ran Alertmanager on one core. Unpinned, Go spreads Alertmanager over
both cores of this machine while `alertstream api` (one Python process) uses one, and the client
competes with whichever server is busy; pinned, each server gets the same one core and the client
(with the broker, which is not the server under test) the rest. Alertmanager also gets
``GOMAXPROCS=1`` so its scheduler does not plan for cores it cannot use.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Pinning:
    server: frozenset[int]
    client: frozenset[int]

    def preexec(self, then: Callable[[], None] | None = None) -> Callable[[], None]:
        """preexec_fn of a server process: its threads all inherit the affinity set before exec."""

        def pin() -> None:
            os.sched_setaffinity(0, self.server)
            if then is not None:
                then()

        return pin

    def client_side(self) -> contextlib.AbstractContextManager[None]:
        """The calling thread (the client's event loop) on the client cores meanwhile."""
        return _on(self.client)

    def server_side(self) -> contextlib.AbstractContextManager[None]:
        """The calling thread, and the threads it starts, on the server cores meanwhile (a part
        of the server measured in the bench's process, where the server would run it)."""
        return _on(self.server)


@contextlib.contextmanager
def _on(cpus: frozenset[int]) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def one_server_core() -> Pinning | None:
    """The last allowed core for the server and the others for the client; None on one core."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return Pinning(frozenset(cpus[-1:]), frozenset(cpus[:-1]))
