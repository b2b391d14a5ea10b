"""Event time through a real worker process: lateness bound, order, and a producer clock ahead."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.events import MetricEvent
from alertstream.streams.fingerprint import fingerprint
from tests.integration.streams.worker_proc import (
    CODEC,
    WorkerProcess,
    publish,
    read_until,
    settled_alerts,
    start_worker,
    tally,
    warm_up,
    write_config,
)

pytestmark = pytest.mark.integration

CPU = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "warning": 70, "critical": 90}
MIN = 60_000


def _now() -> int:
    return int(time.time() * 1000)


def test_skewed_late_and_out_of_order_events_through_the_worker(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    w = start_worker(workers, settings, write_config(tmp_path / "c.yaml", [CPU]))
    warm_up(settings, w)
    fast = fingerprint("cpu", "acme", "skewed")

    # a producer whose clock is 4 minutes fast fires ...
    publish(settings, [MetricEvent("fast-1", "acme", "cpu_percent", 95.0, "skewed", _now() + 4 * MIN)])

    def fired(records: list[object]) -> bool:
        return any(CODEC.decode(r.value, c.ALERT)["fingerprint"] == fast for r in records)  # type: ignore[attr-defined]

    read_until(settings.require_bootstrap(), settings.topics.alerts, fired, 60)
    # ... and a real-time reading of the same entity, taken after that, clears it
    publish(settings, [MetricEvent("real-1", "acme", "cpu_percent", 10.0, "skewed", _now())])

    # a breach two hours old on a fresh entity: refused as late, not a new alert
    publish(settings, [MetricEvent("old-1", "acme", "cpu_percent", 95.0, "stale", _now() - 120 * MIN)])
    # an earlier reading arriving after a newer one, and a redelivery: out of order
    t = _now() - 10_000
    ordered = [
        MetricEvent("o-2", "acme", "cpu_percent", 80.0, "jumbled", t + 2000),
        MetricEvent("o-1", "acme", "cpu_percent", 10.0, "jumbled", t + 1000),
        MetricEvent("o-2", "acme", "cpu_percent", 80.0, "jumbled", t + 2000),
    ]
    publish(settings, ordered)

    alerts = settled_alerts(settings, w)
    assert tally(alerts) == Counter(
        {
            (fast, "firing", "critical"): 1,
            (fast, "resolved", "critical"): 1,  # the clear used to be "late": the alert stayed firing
            (fingerprint("cpu", "acme", "jumbled"), "firing", "warning"): 1,
        }
    )
    assert w.metric("alertstream_alerts_suppressed_total", reason="late") == 1
    assert w.metric("alertstream_alerts_suppressed_total", reason="out_of_order") == 2
