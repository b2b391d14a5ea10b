"""CPU seconds and memory of the pipeline's processes, read from /proc (psutil), for the e2e bench.

A process is counted with every live descendant (PostgreSQL serves each connection from a forked
backend; a subprocess-started alertstream process may have helpers), so "CPU of the database" is
the postmaster plus its backends. Exited children are not seen: the bench samples long-lived
processes only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for proc in _tree(pid):
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for proc in _tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return round(total / 1024 / 1024, 1)


@dataclass(frozen=True)
class CpuSample:
    by_name: Mapping[str, float]

    @classmethod
    def take(cls, pids: Mapping[str, int]) -> CpuSample:
        return cls({name: cpu_seconds(pid) for name, pid in pids.items()})

    def since(self, earlier: CpuSample) -> dict[str, float]:
        """CPU seconds spent per process between ``earlier`` and this sample."""
        return {name: round(value - earlier.by_name.get(name, 0.0), 3) for name, value in self.by_name.items()}
