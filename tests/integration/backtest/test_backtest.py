"""`alertstream backtest` against the real broker: exact counts, read-only, the worker's own alerts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from alertstream.backtest.history import read_history
from alertstream.backtest.replay import replay
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.actions import new_action
from alertstream.schemas.codec import Codec
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.external_alerts import ExternalAlertEvent
from alertstream.schemas.matchers import parse_matchers
from alertstream.schemas.silences import new_silence
from alertstream.streams.config_feed import ConfigFeed
from alertstream.streams.fingerprint import fingerprint
from tests.browser import browser_page, needs_chromium
from tests.integration.streams.lifecycle_stack import alerts_until
from tests.integration.streams.script import RULES, scripted_stream
from tests.integration.streams.worker_proc import (
    WorkerProcess,
    publish,
    read_alerts,
    settled_alerts,
    warm_up,
    write_config,
)
from tests.unit.backtest.test_replay_lifecycle import lifecycle_doc
from tests.unit.backtest.test_replay_report import _history, config_doc

pytestmark = pytest.mark.integration
CODEC = Codec()
ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "images"


def _configs(tmp: Path) -> tuple[Path, Path]:
    """The unit test's baseline and proposed configs (the same four changes), as files."""
    base, proposed = tmp / "baseline.yaml", tmp / "proposed.yaml"
    base.write_text(yaml.safe_dump(config_doc(1, 70, 1, 600, False)))
    proposed.write_text(yaml.safe_dump(config_doc(2, 80, 3, 60, True)))
    return base, proposed


def _publish_recorded(settings: Settings, shift: int) -> tuple[int, int]:
    """The unit history, moved to recent times, each record stamped with its event time."""
    producer = Producer(producer_config(settings.require_bootstrap()))
    events = _history()
    for rec in events:
        e = rec.event
        record = {**e.to_record(), "occurred_at": e.occurred_at + shift}
        producer.produce(
            settings.topics.events_metric,
            key=e.key(),
            value=CODEC.encode(c.METRIC_EVENT, record),
            timestamp=rec.at + shift,
        )
    assert producer.flush(30) == 0
    return events[0].at + shift, events[-1].at + shift


def _end_offsets(bootstrap: str, prefix: str) -> dict[tuple[str, int], int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    consumer = Consumer(consumer_config(bootstrap, "offsets-probe"))
    out = {}
    try:
        for name, meta in admin.list_topics(timeout=10).topics.items():
            if name.startswith(prefix):
                for p in meta.partitions:
                    out[(name, p)] = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
    finally:
        consumer.close()
    return out


def _groups(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return {g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid}


@dataclass(frozen=True)
class PublishedHistory:
    """The unit history published to the broker, and the two config files."""

    settings: Settings
    base: Path
    proposed: Path
    first: int
    last: int

    def backtest(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`alertstream backtest` of proposed vs baseline over exactly the published window."""
        window = ["--from", str(self.first - 1000), "--to", str(self.last + 1000)]
        return _run(self.settings, "--config", str(self.proposed), "--baseline", str(self.base), *window, *args)


def _recorded(settings: Settings, tmp: Path) -> PublishedHistory:
    base, proposed = _configs(tmp)
    # move the history to a 600 s-aligned start about an hour ago (its dedup buckets stay aligned)
    shift = ((int(time.time() * 1000) - 3_600_000) // 600_000) * 600_000 - _history()[0].at
    first, last = _publish_recorded(settings, shift)
    return PublishedHistory(settings, base, proposed, first, last)


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ALERTSTREAM_KAFKA_BOOTSTRAP": settings.require_bootstrap(),
        "ALERTSTREAM_TOPIC_PREFIX": settings.topic_prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "alertstream", "backtest", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_cli_reports_the_exact_effect_of_each_change_and_writes_nothing(settings: Settings, tmp_path: Path) -> None:
    rec = _recorded(settings, tmp_path)
    offsets_before = _end_offsets(settings.require_bootstrap(), settings.topic_prefix)
    groups_before = _groups(settings.require_bootstrap())
    html = tmp_path / "report.html"
    done = rec.backtest("--json", "--out", str(html))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    by_rule = {r: (row["baseline"]["fired"], row["proposed"]["fired"]) for r, row in report["by_rule"].items()}
    assert by_rule == {"cpu": (3, 2), "mem": (1, 0), "lat": (1, 10)}
    assert report["by_receiver"]["pager"]["proposed"] == {"fired": 1, "resolved": 1, "suppressed": {}}
    assert report["by_receiver"]["pager"]["baseline"] == {"fired": 0, "resolved": 0, "suppressed": {}}
    assert report["totals"]["baseline"]["fired"] == 5
    assert report["totals"]["proposed"]["fired"] == 12
    assert report["window"]["events"] == len(_history())
    assert "<svg" in html.read_text()

    # read-only: nothing produced to any topic, no consumer group created or moved
    assert _end_offsets(settings.require_bootstrap(), settings.topic_prefix) == offsets_before
    assert _groups(settings.require_bootstrap()) == groups_before

    gate = rec.backtest("--fail-on-increase", "4")
    assert gate.returncode == 3, gate.stdout + gate.stderr
    assert "5 more notifications" in gate.stderr
    passes = rec.backtest("--fail-on-increase", "5")
    assert passes.returncode == 0, passes.stderr

    # a silence tried with the proposed config: c95 (critical, cpu) is held, so neither ops nor
    # pager hear of it, and its resolve is not sent either
    silenced = rec.backtest("--json", "--silence", 'entity="c95"')
    assert silenced.returncode == 0, silenced.stderr
    tried = json.loads(silenced.stdout)
    assert tried["by_rule"]["cpu"]["proposed"] == {"fired": 1, "resolved": 1, "suppressed": {"silenced": 1}}
    assert tried["by_rule"]["cpu"]["baseline"] == report["by_rule"]["cpu"]["baseline"]
    assert sorted(tried["by_receiver"]) == ["ops"]  # pager heard of nothing, under either config
    bad = rec.backtest("--silence", 'entity=~".*"')
    assert bad.returncode == 2
    assert "--silence 'entity=~\".*\"': at least one matcher must not match the empty string" in bad.stderr


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(settings, write_config(tmp_path / "c.yaml", RULES))
    yield w
    w.stop()


def test_config_in_force_replays_to_exactly_the_alerts_the_worker_emitted(
    settings: Settings, worker: WorkerProcess
) -> None:
    warm_up(settings, worker)
    script = scripted_stream("bt", scale=2)
    events = script.events()
    start = int(time.time() * 1000)
    # alerts from other systems on events.alerts (the API's records): DiskFull ends 3 s after it is
    # received and nothing more is sent about it (the worker's end-time timer resolves it);
    # HighLoad has no endsAt and is still firing at the end (resolve timeout 5 min)
    received = [
        ExternalAlertEvent(
            "x1", "acme", {"alertname": "DiskFull", "severity": "critical"}, start, ends_at=start + 3_000
        ),
        ExternalAlertEvent("x2", "acme", {"alertname": "HighLoad", "team": "web"}, start),
    ]
    raw = [(settings.topics.events_alerts, e.key(), CODEC.encode(c.EXTERNAL_ALERT, e.to_record())) for e in received]
    external_expected = {
        (received[0].fingerprint, "firing", "critical"),
        (received[0].fingerprint, "resolved", "critical"),
        (received[1].fingerprint, "firing", "warning"),
    }
    base = worker.consumed()
    publish(settings, [*raw, *events])
    worker.wait_consumed(base + len(events) + len(raw))
    emitted = read_alerts(settings, sum(script.expected.values()) + len(external_expected))
    end = int(time.time() * 1000)

    in_force = ConfigFeed.in_force(settings.require_bootstrap(), settings.topics.config)
    assert in_force is not None
    history = read_history(settings.require_bootstrap(), settings.topics, CODEC, start, end)
    assert len(history.events) == len(events) + len(raw)
    outcome = replay(history.events, {"in force": in_force}, until=end)["in force"]
    assert sorted(n.alert_id for n in outcome.notifications) == sorted(a["alert_id"] for a in emitted)
    replayed = {(n.fingerprint, n.status, n.severity) for n in outcome.notifications}
    assert replayed == set(script.expected) | external_expected


#: the unit test's proposed config (tests/unit/backtest/test_replay_lifecycle.py), paging after 5 s
LIFECYCLE = lifecycle_doc(True, wait_seconds=5)
Brief = tuple[str, str, str, str, tuple[str, ...]]


def _brief(rule: str, entity: str, status: str, event: str, reason: str, receivers: Sequence[str]) -> Brief:
    return (f"{rule}:{entity}", status, event, reason, tuple(sorted(receivers)))


def _live_brief(a: dict[str, Any]) -> Brief:
    reason = str(json.loads(a["details"] or "{}").get("reason", ""))
    receivers = [r["receiver"] for r in a["routes"]]
    return _brief(a["rule_id"], a["entity"], a["status"], a.get("event") or "notify", reason, receivers)


def _produce(settings: Settings, topic: str, key: str, value: bytes) -> None:
    producer = Producer(producer_config(settings.require_bootstrap()))
    producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(30) == 0


@pytest.fixture
def lifecycle_worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    extra = {k: v for k, v in LIFECYCLE.items() if k not in ("rules", "version")}
    w = WorkerProcess(settings, write_config(tmp_path / "c.yaml", LIFECYCLE["rules"], **extra))
    yield w
    w.stop()


def test_the_replay_runs_the_lifecycle_the_worker_ran_silence_inhibition_ack_escalation(
    settings: Settings, lifecycle_worker: WorkerProcess
) -> None:
    worker = lifecycle_worker
    warm_up(settings, worker)
    start = int(time.time() * 1000)
    silence = new_silence(parse_matchers('entity="s1"'), start, start + 6_000, "ops", "maintenance", start)
    _produce(settings, settings.topics.silences, silence.id, silence.to_json())
    while worker.metric("alertstream_lifecycle_view", view="silences") != 1:
        time.sleep(0.05)

    def seen(*wanted: Brief) -> Callable[[list[dict[str, Any]]], bool]:
        return lambda alerts: set(wanted) <= {_live_brief(a) for a in alerts}

    def at() -> int:
        return int(time.time() * 1000)

    # the pool alert first (its firing is in the inhibition view before the cpu alerts are evaluated)
    publish(settings, [MetricEvent(f"pool-{at()}", "acme", "db_pool", 0.95, "s2", at())])
    alerts_until(settings, seen(_brief("pool", "s2", "firing", "notify", "new", ["ops"])))
    publish(settings, [MetricEvent(f"{s}-{at()}", "acme", "cpu", 75.0, s, at()) for s in ("s1", "s2", "s3", "s4")])
    alerts_until(settings, seen(_brief("cpu", "s3", "firing", "notify", "new", ["ops"])))
    ack = new_action("acknowledge", fingerprint("cpu", "acme", "s3"), "acme", "api-key:k1", at(), "looking")
    _produce(settings, settings.topics.actions, ack.fingerprint, ack.to_json())
    # s1 is released when its silence ends (6 s) and paged 5 s later; s4 and the pool alert 5 s after they fired
    escalated = [_brief(r, e, "firing", "notify", "escalation", ["lead"]) for r, e in (("cpu", "s1"), ("cpu", "s4"))]
    alerts_until(settings, seen(*escalated, _brief("pool", "s2", "firing", "notify", "escalation", ["lead"])))
    publish(
        settings,
        [
            *(MetricEvent(f"{s}-end-{at()}", "acme", "cpu", 50.0, s, at()) for s in ("s1", "s2", "s3", "s4")),
            MetricEvent(f"pool-end-{at()}", "acme", "db_pool", 0.4, "s2", at()),
        ],
    )
    live = settled_alerts(settings, worker)
    end = at()
    expected = Counter(
        [
            _brief("pool", "s2", "firing", "notify", "new", ["ops"]),
            _brief("pool", "s2", "firing", "notify", "escalation", ["lead"]),
            _brief("pool", "s2", "resolved", "notify", "cleared", ["ops", "lead"]),
            _brief("cpu", "s1", "firing", "suppressed", "silenced", []),
            _brief("cpu", "s1", "firing", "notify", "released", ["ops"]),
            _brief("cpu", "s1", "firing", "notify", "escalation", ["lead"]),
            _brief("cpu", "s1", "resolved", "notify", "cleared", ["ops", "lead"]),
            _brief("cpu", "s2", "firing", "suppressed", "inhibited", []),
            _brief("cpu", "s3", "firing", "notify", "new", ["ops"]),
            _brief("cpu", "s3", "firing", "acknowledged", "acknowledged", ["ops"]),
            _brief("cpu", "s3", "resolved", "notify", "cleared", ["ops"]),
            _brief("cpu", "s4", "firing", "notify", "new", ["ops"]),
            _brief("cpu", "s4", "firing", "notify", "escalation", ["lead"]),
            _brief("cpu", "s4", "resolved", "notify", "cleared", ["ops", "lead"]),
        ]
    )
    assert Counter(_live_brief(a) for a in live) == expected  # what the worker did

    in_force = ConfigFeed.in_force(settings.require_bootstrap(), settings.topics.config)
    assert in_force is not None
    history = read_history(settings.require_bootstrap(), settings.topics, CODEC, start, end)
    assert [type(n.item).__name__ for n in history.lifecycle] == ["Silence", "Action"]
    outcome = replay(history.events, {"in force": in_force}, until=end, lifecycle=history.lifecycle)["in force"]
    replayed = [n for n in outcome.records if n.rule_id != "sentinel"]
    briefs = Counter(_brief(n.rule_id, n.entity, n.status, n.event, n.reason, n.receivers) for n in replayed)
    assert briefs == expected
    # the same records: equal ids, but for the pages (an escalation's id has its due time, which
    # follows the clock of the batch or tick that started the walk: the worker's, the record time here)
    ids = sorted(n.alert_id for n in replayed if n.reason != "escalation")
    assert ids == sorted(a["alert_id"] for a in live if _live_brief(a)[3] != "escalation")


@needs_chromium
def test_html_report_opens_offline_in_chromium_and_shows_the_chart(settings: Settings, tmp_path: Path) -> None:
    rec = _recorded(settings, tmp_path)
    html = tmp_path / "report.html"
    done = rec.backtest("--out", str(html))
    assert done.returncode == 0, done.stderr
    assert f"report: {html}" in done.stdout
    with browser_page() as b:
        b.page.goto(html.as_uri())
        series = b.page.locator("svg polyline.series")
        assert series.count() == 2
        assert sorted(series.nth(i).get_attribute("data-series") or "" for i in range(2)) == ["baseline", "proposed"]
        # the busiest ~6 s bucket is the baseline's first: lat, c75/c85/c95 fired and resolved, m2 fired
        assert b.page.locator("svg").first.get_attribute("data-peak") == "8"
        assert "Would stop firing (2)" in b.page.inner_text("body")
        # the docs' picture only when asked (ALERTSTREAM_WRITE_DOCS=1): a test run leaves the tree clean
        shot = DOCS / "backtest-report.png" if os.environ.get("ALERTSTREAM_WRITE_DOCS") == "1" else tmp_path / "r.png"
        b.page.screenshot(path=str(shot), full_page=True)
        assert b.requests == [html.as_uri()]
        assert b.foreign == []
