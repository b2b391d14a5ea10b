"""Fixtures of the worker's integration tests: real `alertstream worker` processes, stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.streams.worker_proc import WorkerProcess


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test started (append them); each is stopped at the end of the test."""
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.stop()
