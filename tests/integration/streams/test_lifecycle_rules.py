"""The lifecycle's config rules in a real worker on the real broker (issue 13): inhibition with
``equal``, routes' mute / active time intervals against the worker's clock, missing data
(``resolve_after``) and a heartbeat rule. Exact records per entity, failing on extra ones."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alertstream.runtime.settings import Settings
from alertstream.schemas.events import MetricEvent
from tests.integration.streams.lifecycle_stack import Alert, alerts_until, briefs, reason, suppression
from tests.integration.streams.worker_proc import WorkerProcess, publish, settled_alerts, start_worker, warm_up
from tests.integration.streams.worker_proc import write_config as worker_config

pytestmark = pytest.mark.integration

HOOK = [{"name": "hook", "channel": "webhook", "url": "https://hooks.example.com/a"}]


def _event(metric: str, value: float, entity: str, tenant: str = "acme") -> MetricEvent:
    now = int(time.time() * 1000)
    return MetricEvent(f"{entity}-{metric}-{time.monotonic_ns()}", tenant, metric, value, entity, now)


def _not_now() -> dict[str, Any]:
    """A daily hour (UTC) that does not contain the next hour: from now + 2 h to now + 3 h."""
    start = (datetime.now(UTC).hour + 2) % 24
    end = "24:00" if start == 23 else f"{start + 1:02d}:00"
    return {"name": "not-now", "time_intervals": [{"times": [{"start_time": f"{start:02d}:00", "end_time": end}]}]}


def test_inhibition_and_time_intervals(settings: Settings, tmp_path: Path, workers: list[WorkerProcess]) -> None:
    rules = [
        {"id": "db-pool-saturated", "metric": "db_pool", "operator": ">", "critical": 90, "clear": 50},
        {"id": "api-latency-high", "metric": "api_latency", "operator": ">", "warning": 500, "critical": 5000},
        *[
            {"id": name, "metric": "cpu_percent", "operator": ">", "critical": 90, "clear": 60}
            for name in ("cpu-muted", "cpu-open", "cpu-inactive")
        ],
    ]
    config = worker_config(
        tmp_path / "rules.yaml",
        rules,
        receivers=HOOK,
        inhibit_rules=[
            {
                "name": "db-pool-hides-latency",
                "source_matchers": ['alertname="db-pool-saturated"', 'severity="critical"'],
                "target_matchers": ['alertname="api-latency-high"', 'severity="warning"'],
                "equal": ["tenant"],
            }
        ],
        time_intervals=[{"name": "always", "time_intervals": [{"weekdays": ["sunday:saturday"]}]}, _not_now()],
        routes={
            "receiver": "hook",
            "routes": [
                {"match": {"rule": "cpu-muted"}, "receiver": "hook", "mute_time_intervals": ["always"]},
                {"match": {"rule": "cpu-open"}, "receiver": "hook", "mute_time_intervals": ["not-now"]},
                {"match": {"rule": "cpu-inactive"}, "receiver": "hook", "active_time_intervals": ["not-now"]},
            ],
        },
    )
    worker = start_worker(workers, settings, config)
    warm_up(settings, worker)

    publish(settings, [_event("db_pool", 95, "pool-1")])
    alerts_until(settings, lambda a: any(x["entity"] == "pool-1" for x in a))
    publish(
        settings,
        [
            _event("api_latency", 800, "api-1"),  # same tenant as the source: inhibited
            _event("api_latency", 800, "api-2", tenant="globex"),  # another tenant: `equal` differs
            _event("api_latency", 9000, "api-3"),  # critical: the target matchers want warning
            _event("cpu_percent", 95, "node-1"),
        ],
    )
    held = settled_alerts(settings, worker)
    by_rule = {(a["rule_id"], a["entity"]): a for a in held}
    assert briefs(held, "pool-1") == [("firing", "notify", "new")]  # the source is not suppressed
    assert briefs(held, "api-1") == [("firing", "suppressed", "inhibited")]
    assert suppression(by_rule["api-latency-high", "api-1"]) == {
        "reason": "inhibited",
        "inhibit_rule": "db-pool-hides-latency",
    }
    assert briefs(held, "api-2") == [("firing", "notify", "new")]
    assert briefs(held, "api-3") == [("firing", "notify", "new")]
    node = sorted((a["rule_id"], brief_of(a)) for a in held if a["entity"] == "node-1")
    assert node == [
        ("cpu-inactive", ("suppressed", "muted")),  # active only in an interval that does not contain now
        ("cpu-muted", ("suppressed", "muted")),  # muted by an interval that contains now
        ("cpu-open", ("notify", "new")),  # muted by an interval that does not contain now
    ]
    assert suppression(by_rule["cpu-muted", "node-1"]) == {"reason": "muted", "time_interval": "always"}
    assert suppression(by_rule["cpu-inactive", "node-1"]) == {"reason": "muted", "time_interval": "not-now"}
    assert len(held) == 7

    publish(settings, [_event("db_pool", 10, "pool-1")])  # the source resolves: the target goes out
    alerts_until(settings, lambda a: any(x["entity"] == "api-1" and x["event"] == "notify" for x in a))
    after = settled_alerts(settings, worker)
    assert briefs(after, "pool-1") == [("firing", "notify", "new"), ("resolved", "notify", "cleared")]
    assert briefs(after, "api-1") == [("firing", "suppressed", "inhibited"), ("firing", "notify", "released")]
    assert len(after) == 9


def brief_of(a: Alert) -> tuple[str, str]:
    return (a["event"], reason(a))


def test_missing_data_resolves_once_and_a_heartbeat_fires_and_resolves(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    rule = {
        "id": "cpu",
        "metric": "cpu_percent",
        "operator": ">",
        "critical": 90,
        "clear": 60,
        "missing_data": {"policy": "resolve_after", "after_seconds": 3},
    }
    config = worker_config(
        tmp_path / "missing.yaml",
        [rule],
        receivers=HOOK,
        routes={"receiver": "hook"},
        heartbeats=[{"id": "collector-heartbeat", "metric": "hb_probe", "after_seconds": 4}],
    )
    worker = start_worker(workers, settings, config)
    warm_up(settings, worker)
    publish(settings, [_event("cpu_percent", 95, "db-1"), _event("hb_probe", 1, "collector-1")])
    fired = alerts_until(settings, lambda a: any(x["entity"] == "collector-1" for x in a), timeout=60)
    # the heartbeat's 4 s are later than the rule's 3 s: db-1 was resolved by then
    assert briefs(fired, "db-1") == [("firing", "notify", "new"), ("resolved", "notify", "missing_data")]
    publish(settings, [_event("hb_probe", 1, "collector-1")])  # the source reports again
    alerts_until(settings, lambda a: any(x["entity"] == "collector-1" and x["status"] == "resolved" for x in a))
    alerts = settled_alerts(settings, worker)

    assert briefs(alerts, "db-1") == [("firing", "notify", "new"), ("resolved", "notify", "missing_data")]
    assert briefs(alerts, "collector-1") == [
        ("firing", "notify", "heartbeat_missing"),
        ("resolved", "notify", "reported"),
    ]
    assert len(alerts) == 4
    beat = next(a for a in alerts if a["entity"] == "collector-1")
    assert beat["rule_id"] == "collector-heartbeat"
    assert beat["tenant"] == "acme"
    gone = next(a for a in alerts if a["entity"] == "db-1" and a["status"] == "resolved")
    assert json.loads(gone["details"])["missing_data"] == {"policy": "resolve_after", "after_seconds": 3.0}
