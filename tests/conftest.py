"""Shared fixtures: one real broker and one real PostgreSQL per test session.

Where they come from is decided once by :mod:`alertstream.local_stack` (env vars, then
testcontainers when a Docker engine answers, then local tansu + embedded PostgreSQL), the same
module `alertstream dev` and the benchmark use. Each test gets its own topic prefix, so tests never
see each other's messages on the shared broker.
"""

from __future__ import annotations

import gc
import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from alertstream.local_stack import DEFAULT_PORT_RANGE, LocalStack, StackInfo
from alertstream.runtime.settings import Settings
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas.config import load_config


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest-xdist worker picks local ports from its own slice (alertstream.local_stack)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        lo, hi = DEFAULT_PORT_RANGE
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
        size = (hi - lo) // max(count, 1)
        start = lo + int(worker[2:]) * size
        os.environ["ALERTSTREAM_LOCAL_PORT_RANGE"] = f"{start}-{start + size - 1}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the last test of each file, collect garbage and report what the file left open (a
    socket, a file) as a teardown error of that test. Without this, the warning fires in whichever
    later test the collector happens to run in (a CI run failed that way, in an unrelated file)."""
    yield
    if nextitem is not None and nextitem.path == item.path:
        return
    caught: list[Any] = []
    hook = sys.unraisablehook
    sys.unraisablehook = caught.append
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook
    if caught:
        leaks = "; ".join(f"{u.exc_value!r} ({u.object!r})" for u in caught)
        report = pytest.TestReport(
            item.nodeid,
            item.location,
            {},
            "failed",
            f"left open by the tests of {item.path.name}: {leaks}",
            "teardown",
        )
        item.ihook.pytest_runtest_logreport(report=report)


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    """The real broker + PostgreSQL for this test session (started once, stopped at the end)."""
    with LocalStack(
        kafka_bootstrap=os.environ.get("ALERTSTREAM_KAFKA_BOOTSTRAP"),
        database_url=os.environ.get("ALERTSTREAM_DATABASE_URL"),
    ) as info:
        yield info


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(stack: StackInfo, topic_prefix: str) -> Settings:
    """Settings pointing at the session's stack, with a fresh prefix and every topic created."""
    s = Settings(
        kafka_bootstrap=stack.bootstrap,
        database_url=SecretStr(stack.database_url),
        topic_prefix=topic_prefix,
        metrics_port=0,
    )
    create_topics(stack.bootstrap, load_config(s.config), s.topics)
    return s
