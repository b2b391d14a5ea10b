"""`alertstream dev` runs the pipeline end to end into the demo sink, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.process_listing import describe, still_running

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
    delivered: dict[str, int] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        descendants |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        found = re.search(r"events\.metric=(\d+)", line)
        if found:
            metric_count = int(found.group(1))
        sink = re.search(r"demo-sink\s+webhook=(\d+) \(\+(\d+) refused.*slack=(\d+) pagerduty=(\d+) email=(\d+)", line)
        if sink:
            names = ("webhook", "refused", "slack", "pagerduty", "email")
            delivered = dict(zip(names, map(int, sink.groups()), strict=True))
            if all(delivered[ch] > 0 for ch in ("webhook", "slack", "pagerduty", "email")):
                break
    output = "".join(lines)
    assert metric_count > 0, output
    assert "[dev] ready:" in output
    assert re.search(r"\[dev\] broker\s+\w", output)
    assert descendants, "dev started no child processes"
    # alerts went all the way: worker -> every channel's deliver group -> the demo sink, and the
    # sink's own signature check accepted every webhook
    assert delivered, output
    assert all(delivered[ch] > 0 for ch in ("webhook", "slack", "pagerduty", "email")), output
    assert delivered["refused"] == 0, output

    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output + rest
    assert "[dev] stopped cleanly" in rest
    time.sleep(0.5)
    alive = still_running(sorted(descendants))
    assert alive == [], f"left behind: {describe(alive)}"
