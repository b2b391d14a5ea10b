"""`alertstream dev` starts the stack, shows events flowing, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = pytest.mark.integration


def test_dev_runs_and_ctrl_c_stops_everything() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTSTREAM_")}
    env["ALERTSTREAM_METRICS_PORT"] = "0"
    proc = subprocess.Popen(
        [sys.executable, "-m", "alertstream", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # like a terminal: Ctrl-C goes to the whole foreground group
    )
    assert proc.stdout is not None
    lines: list[str] = []
    descendants: set[int] = set()
    metric_count = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        descendants |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        found = re.search(r"events\.metric=(\d+)", line)
        if found:
            metric_count = int(found.group(1))
            if metric_count > 0 and len([x for x in lines if "events.metric=" in x]) >= 2:
                break
    output = "".join(lines)
    assert metric_count > 0, output
    assert "[dev] ready:" in output
    assert re.search(r"\[dev\] broker\s+\w", output)
    assert descendants, "dev started no child processes"

    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output + rest
    assert "[dev] stopped cleanly" in rest
    time.sleep(0.5)
    alive = [p for p in descendants if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left behind: {[psutil.Process(p).cmdline() for p in alive]}"
