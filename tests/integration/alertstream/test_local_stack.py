"""The local stack leaves nothing behind: not on close, not when its owner is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil
import pytest

from alertstream.local_stack import LocalStack
from tests.process_listing import still_running

pytestmark = pytest.mark.integration

_OWNER = """
import json, sys, time
from alertstream.local_stack import LocalStack
stack = LocalStack(None, None, use_docker=False)
info = stack.start()
print(json.dumps(info.pids), flush=True)
time.sleep(600)
"""


def _tree(pid: int) -> list[int]:
    proc = psutil.Process(pid)
    return [pid, *(c.pid for c in proc.children(recursive=True))]


def test_close_stops_every_process() -> None:
    stack = LocalStack(None, None, use_docker=False)
    info = stack.start()
    assert info.kafka_source == "tansu"
    assert info.database_source == "embedded-postgres"
    pids = [p for pid in info.pids.values() for p in _tree(pid)]
    assert len(pids) >= 3  # tansu, the postmaster and its background processes
    stack.close()
    assert still_running(pids, 15) == []


def test_sigkill_of_the_owner_leaves_no_orphans() -> None:
    with subprocess.Popen([sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, text=True) as owner:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        pids = [p for pid in started.values() for p in _tree(pid)]
        assert len(pids) >= 3
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)
    assert still_running(pids, 15) == []
