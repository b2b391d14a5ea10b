"""Process listings for the no-orphans tests, tolerant of processes exiting while we look."""

from __future__ import annotations

import time

import psutil


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # exited (and was reaped) between listing and looking
        return False


def still_running(pids: list[int], timeout: float = 0.0) -> list[int]:
    """The pids still running after waiting up to ``timeout`` seconds for them to go."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if running(p)]
    return alive


def describe(pids: list[int]) -> list[str]:
    """Command lines, for an assertion message."""
    out = []
    for p in pids:
        try:
            out.append(" ".join(psutil.Process(p).cmdline()))
        except psutil.NoSuchProcess:
            out.append(f"{p} (gone)")
    return out
