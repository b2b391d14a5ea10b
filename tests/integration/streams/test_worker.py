"""The evaluator worker against the real local broker (acceptance tests of issue 3)."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import pytest

from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.events import MetricEvent
from alertstream.streams.config_feed import publish_config
from tests.integration.streams.script import RULES, scripted_stream
from tests.integration.streams.worker_proc import (
    CODEC,
    PARTITIONS,
    SENTINEL_RULE,
    WorkerProcess,
    publish,
    read_alerts,
    read_until,
    settled_alerts,
    start_worker,
    tally,
    warm_up,
    write_config,
)

pytestmark = pytest.mark.integration


def test_scripted_stream_yields_exactly_the_expected_alerts(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    w = start_worker(workers, settings, write_config(tmp_path / "c.yaml", RULES))
    warm_up(settings, w)
    script = scripted_stream("s")
    events = script.events()
    assert len(events) == 20_000
    base = w.consumed()
    publish(settings, events)
    w.wait_consumed(base + len(events))
    alerts = settled_alerts(settings, w)
    assert tally(alerts) == script.expected  # fails on a missing and on an extra alert
    by_key = {(a["fingerprint"], a["status"]): a for a in alerts if "recover" in a["entity"]}
    resolved = [a for (_, status), a in by_key.items() if status == "resolved"]
    assert len(resolved) == 20
    assert {(a["occurrence_count"], a["suppressed_count"]) for a in resolved} == {(100, 99)}
    assert all(a["rule_version"] == 1 for a in alerts)


POISON_CLASSES = (
    "bad_magic",
    "truncated",
    "unknown_schema",
    "schema_mismatch",
    "non_finite",
    "future_timestamp",
    "bad_text",
)


def _poison(reason: str, i: int, topic: str) -> tuple[str, bytes, bytes]:
    now = int(time.time() * 1000)
    good = MetricEvent(f"bad{i}", "acme", "cpu_percent", 1.0, "s", now).to_record()
    value = {
        "bad_magic": lambda: b"not avro at all %d" % i,
        "truncated": lambda: b"\xc3\x01\x01\x02",
        "unknown_schema": lambda: b"\xc3\x01" + i.to_bytes(8, "big") + b"\x00",
        "schema_mismatch": lambda: CODEC.encode(c.ALERT, _an_alert(i)),
        "non_finite": lambda: CODEC.encode(c.METRIC_EVENT, {**good, "value": math.inf if i % 2 else math.nan}),
        "future_timestamp": lambda: CODEC.encode(c.METRIC_EVENT, {**good, "occurred_at": now + 86_400_000}),
        "bad_text": lambda: CODEC.encode(c.METRIC_EVENT, {**good, "labels": {"note": "nul\x00here"}}),
    }[reason]()
    return topic, f"poison-{reason}-{i}".encode(), value


def _an_alert(i: int) -> dict[str, object]:
    return {
        "alert_id": f"a{i}",
        "tenant": "t",
        "rule_id": "r",
        "status": "firing",
        "severity": "info",
        "fingerprint": "f",
        "summary": "s",
        "first_seen": 0,
        "last_seen": 0,
    }


def test_poison_messages_go_to_events_invalid_and_every_good_event_is_evaluated(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    w = start_worker(workers, settings, write_config(tmp_path / "c.yaml", RULES))
    warm_up(settings, w)
    now = int(time.time() * 1000) - 60_000
    topic = settings.topics.events_metric
    stream: list[MetricEvent | tuple[str, bytes, bytes]] = []
    bad = 0
    for i in range(10_000):
        # every good event breaches on its own fingerprint: exactly one alert each proves it was evaluated
        stream.append(MetricEvent(f"g{i}", f"t{i % 7}", "cpu_percent", 85.0, f"good-{i}", now + i))
        if i % 20 == 0:
            for reason in POISON_CLASSES:
                stream.append(_poison(reason, bad, topic))
            bad += 1
    assert bad == 500
    base = w.consumed()
    publish(settings, stream)
    w.wait_consumed(base + 10_000 + 500 * len(POISON_CLASSES))
    alerts = settled_alerts(settings, w)  # every event evaluated: the invalid counters are final
    assert Counter(a["entity"] for a in alerts) == {f"good-{i}": 1 for i in range(10_000)}
    sent = sum(w.metric("alertstream_events_invalid_total", reason=reason) for reason in POISON_CLASSES)
    assert sent == 500 * len(POISON_CLASSES)
    invalid = read_until(settings.require_bootstrap(), settings.topics.events_invalid, lambda r: len(r) >= sent, 60)
    assert len(invalid) == sent  # exactly what the worker says it sent: none lost, none twice
    assert Counter(r.headers["error.reason"].decode() for r in invalid) == dict.fromkeys(POISON_CLASSES, 500)
    for r in invalid:
        assert r.key is not None
        assert r.key.startswith(b"poison-" + r.headers["error.reason"])
        assert r.headers["source.topic"] == topic.encode()
        assert int(r.headers["source.partition"]) in range(6)
        assert int(r.headers["source.offset"]) >= 0
        assert r.headers["error.detail"]
    originals = {k: v for _, k, v in (s for s in stream if isinstance(s, tuple))}
    assert len(originals) == 500 * len(POISON_CLASSES)
    assert {r.key: r.value for r in invalid} == originals  # original key and bytes, unchanged
    assert w.alive()
    for reason in POISON_CLASSES:
        assert w.metric("alertstream_events_invalid_total", reason=reason) == 500
    assert w.metric("alertstream_alerts_emitted_total", severity="warning", status="firing") == 10_000


def test_restart_after_sigkill_recovers_dedup_state(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    config = write_config(tmp_path / "c.yaml", RULES)
    w1 = start_worker(workers, settings, config)
    warm_up(settings, w1)
    script = scripted_stream("r", scale=2)
    events = script.events()
    base = w1.consumed()
    publish(settings, events)
    w1.wait_consumed(base + len(events))
    first = settled_alerts(settings, w1)
    assert tally(first) == script.expected
    on_topic = len(first) + PARTITIONS  # and w1's sentinel alerts
    time.sleep(4)  # steady state: offsets committed, changelog flushed (not mid-burst)
    w1.kill()

    w2 = start_worker(workers, settings, config)
    warm_up(settings, w2)
    base = w2.consumed()
    publish(settings, events)  # the same events again
    w2.wait_consumed(base + len(events))
    again = settled_alerts(settings, w2, before=on_topic)
    # 0 new alerts: dedup state came back from the changelog (the counters say nothing more was sent)
    assert sorted(a["alert_id"] for a in again) == sorted(a["alert_id"] for a in first)
    # and the recovered state is live: the steady breaches now recover -> exactly one resolve each
    steady = [s for s in script.series if "steady" in s[0].event_id]
    last = steady[0][-1].occurred_at
    recovery = [
        MetricEvent(f"{s[0].event_id}-rec", s[0].tenant, "cpu_percent", 10.0, s[0].source, last + 1000)  # type: ignore[union-attr]
        for s in steady
    ]
    publish(settings, recovery)
    final = settled_alerts(settings, w2, before=on_topic)
    new = tally(final) - tally(first)
    assert sum(new.values()) == len(steady)
    assert {status for (_, status, _) in new} == {"resolved"}


def test_two_workers_in_one_group_produce_the_same_alert_set(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    config = write_config(tmp_path / "c.yaml", RULES)
    a = start_worker(workers, settings, config)
    b = start_worker(workers, settings, config, publish_config=False)
    warm_up(settings, a, b)
    time.sleep(3)  # let the group settle after both joined
    script = scripted_stream("two", scale=2)
    events = script.events()
    base_a, base_b = a.consumed(), b.consumed()
    publish(settings, events)
    deadline = time.monotonic() + 60
    while a.consumed() + b.consumed() - base_a - base_b < len(events) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert a.consumed() > base_a
    assert b.consumed() > base_b
    assert tally(settled_alerts(settings, a, b)) == script.expected


def test_two_workers_share_one_rate_limit_per_tenant(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """A tenant's alerts arise on every partition, so on both workers: the limit is still one.
    (Counted per worker, 40 firings would let up to 2 x 10 through.)"""
    rule = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "warning": 70, "critical": 90}
    limits = {"window_seconds": 3600, "per_tenant": 10}
    config = write_config(tmp_path / "c.yaml", [rule], rate_limits=limits)
    a = start_worker(workers, settings, config)
    b = start_worker(workers, settings, config, publish_config=False)
    warm_up(settings, a, b)
    time.sleep(3)  # let the group settle after both joined
    now = int(time.time() * 1000)
    # every event in one rate-limit window (the hour), and recent: an event stamped at the start of
    # the hour could pass the rules' 1 h lateness bound before the test ends (late at :59)
    base = max(now - now % 3_600_000, now - 300_000)
    base_a, base_b = a.consumed(), b.consumed()
    for i in range(40):  # one new fingerprint each, trickled: each worker sees the other's counts
        publish(settings, [MetricEvent(f"rl-w{i}", "rl", "cpu_percent", 80.0, f"src-{i}", base + i)])
        time.sleep(0.3)
    publish(
        settings, [MetricEvent(f"rl-c{i}", "rl", "cpu_percent", 95.0, f"crit-{i}", base + 100 + i) for i in range(5)]
    )
    alerts = settled_alerts(settings, a, b)
    assert a.consumed() > base_a
    assert b.consumed() > base_b
    got = Counter((x["severity"], x["rate_limited"]) for x in alerts)
    assert got == {("warning", False): 10, ("critical", True): 5}  # critical: marked, never dropped
    suppressed = sum(w.metric("alertstream_alerts_suppressed_total", reason="rate_limit") for w in (a, b))
    assert suppressed == 30


def test_config_change_reaches_a_running_worker(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    rule = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "warning": 70}
    w = start_worker(workers, settings, write_config(tmp_path / "c.yaml", [rule], version=1))
    warm_up(settings, w)
    now = int(time.time() * 1000) - 60_000
    base = w.consumed()
    publish(settings, [MetricEvent("before", "acme", "cpu_percent", 60.0, "before", now)])
    w.wait_consumed(base + 1)
    publish_config(
        settings.require_bootstrap(),
        settings.topics.config,
        {"version": 2, "rules": [{**rule, "warning": 50}, SENTINEL_RULE]},
    )
    deadline = time.monotonic() + 30
    i = 0
    alerts: list[dict[str, object]] = []
    while not alerts and time.monotonic() < deadline:
        i += 1
        publish(settings, [MetricEvent(f"after{i}", "acme", "cpu_percent", 60.0, f"after-{i}", now + i)])
        time.sleep(0.5)
        alerts = [a for a in read_alerts(settings, 1, timeout=1, settle=0) if a["rule_version"] == 2]
    assert alerts, "the new rule never applied"
    everything = settled_alerts(settings, w)
    assert len(everything) >= len(alerts)
    assert all(a["rule_version"] == 2 for a in everything)  # nothing fired under version 1
    assert "before" not in {a["entity"] for a in everything}
    assert w.alive()
