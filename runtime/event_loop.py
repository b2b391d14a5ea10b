"""The event loop of the pipeline's asyncio processes: uvloop where it is installed.

Why: measured in the e2e bench, uvloop cut the deliver process's CPU per notification (its loop
runs thousands of socket reads/writes, timers and futures per second); asyncio's own loop stays
the fallback (platforms without uvloop), and ``ALERTSTREAM_UVLOOP=0`` selects it explicitly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
UVLOOP_ENV = "ALERTSTREAM_UVLOOP"


def uvloop_wanted() -> bool:
    return os.environ.get(UVLOOP_ENV, "1").strip() not in ("0", "false", "no")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when available and not disabled."""
    if uvloop_wanted():
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)
