"""`alertstream backtest` against the real broker: exact counts, read-only, the worker's own alerts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from alertstream.backtest.history import read_history
from alertstream.backtest.replay import replay
from alertstream.runtime.kafka_clients import consumer_config, producer_config
from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.external_alerts import ExternalAlertEvent
from alertstream.streams.config_feed import ConfigFeed
from tests.browser import browser_page, needs_chromium
from tests.integration.streams.script import RULES, scripted_stream
from tests.integration.streams.worker_proc import WorkerProcess, publish, read_alerts, warm_up, write_config
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
