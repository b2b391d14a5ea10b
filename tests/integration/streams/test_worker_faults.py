"""Crashes at the worst moment, against real worker processes and the real broker."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from alertstream.runtime.settings import Settings
from alertstream.schemas.events import MetricEvent
from alertstream.streams.fingerprint import fingerprint
from alertstream.streams.worker import FAULT_CRASH_AFTER_STATE_WRITE, FAULT_ENV, FAULT_EXIT_CODE
from tests.integration.streams.worker_proc import (
    PARTITIONS,
    WorkerProcess,
    emitted,
    publish,
    settled_alerts,
    start_worker,
    warm_up,
    write_config,
)

pytestmark = pytest.mark.integration

CPU = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "warning": 70, "critical": 90}


def test_a_crash_right_after_the_state_write_does_not_lose_the_alert(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """The state that records an alert as sent must never reach the broker before the alert.

    The first worker dies (fault injection) right after a batch's state write has reached the
    broker. With the state written first, the alert was never sent, and the replayed event was a
    no-op against the recovered state ("not newer than the last applied"): a critical alert lost.
    """
    config = write_config(tmp_path / "c.yaml", [CPU])
    w1 = start_worker(workers, settings, config, env={FAULT_ENV: FAULT_CRASH_AFTER_STATE_WRITE})
    warm_up(settings, w1)
    event = MetricEvent("crit-1", "acme", "cpu_percent", 95.0, "db-1", int(time.time() * 1000) - 1000)
    publish(settings, [event])
    deadline = time.monotonic() + 60
    while w1.alive():
        assert time.monotonic() < deadline, "the fault never fired"
        time.sleep(0.1)
    assert w1.proc.returncode == FAULT_EXIT_CODE

    w2 = start_worker(workers, settings, config)
    warm_up(settings, w2)
    # before=1: the first worker had the alert acknowledged before it wrote the state and died
    alerts = settled_alerts(settings, w2, before=1)
    fp = fingerprint("cpu", "acme", "db-1")
    assert Counter((a["fingerprint"], a["status"], a["severity"]) for a in alerts) == {
        (fp, "firing", "critical"): 1 + emitted(w2) - PARTITIONS  # a re-emission on replay is allowed ...
    }
    assert len({a["alert_id"] for a in alerts}) == 1  # ... with the same id: idempotent sinks drop it
