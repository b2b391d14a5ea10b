"""Waiting for something a test's processes do: poll a condition until it holds or time is up.

One way for every test (a fixed sleep would be a guess; a condition is a positive marker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    condition: Callable[[], T], within: float, *, step: float = 0.2, check: Callable[[], object] | None = None
) -> T:
    """The condition's first truthy value within ``within`` seconds, else its value once the time
    is up. ``check`` runs between tries (e.g. asserting that the processes are still alive, so a
    crash fails at once with its log instead of at the deadline)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        if check is not None:
            check()
        time.sleep(step)
    return condition()


def wait_until(condition: Callable[[], T], within: float, what: str, *, step: float = 0.1) -> T:
    """:func:`eventually`, or an AssertionError saying what did not happen in time."""
    got = eventually(condition, within, step=step)
    if not got:
        raise AssertionError(f"not within {within:g} s: {what}")
    return got
