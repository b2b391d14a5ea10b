"""`alertstream bench` measures the passthrough ceiling on the real broker and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from alertstream.bench.harness import BenchReport, passthrough_ceiling, produce_batch, run_bench
from alertstream.local_stack import StackInfo
from alertstream.runtime.settings import Settings
from tests.kafka_reader import read_topic

pytestmark = pytest.mark.integration


def test_passthrough_moves_every_message(settings: Settings) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    messages = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(3000)]
    produce_batch(bootstrap, settings.topics.events_metric, messages)
    rate = passthrough_ceiling(bootstrap, settings.topics.events_metric, settings.topics.name("sink"), 3000)
    assert rate > 0
    moved = read_topic(bootstrap, settings.topics.name("sink"), 3000)
    assert sorted((r.key, r.value) for r in moved) == sorted(messages)


def test_run_bench_reports_ceiling_and_ratios(stack: StackInfo, tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap=stack.bootstrap, database_url=SecretStr(stack.database_url), metrics_port=0)
    report = run_bench(settings, [], 2000, tmp_path)
    assert report.ceiling["events"] == 2000
    assert report.ceiling["passthrough_events_per_s"] > 0
    (written,) = tmp_path.glob("bench-*.json")
    data = json.loads(written.read_text())
    assert data["ceiling"]["passthrough_events_per_s"] == report.ceiling["passthrough_events_per_s"]
    assert data["machine"]["broker"] == "env"  # the given bootstrap, not a stack of its own


def test_ratios_are_relative_to_the_ceiling() -> None:
    report = BenchReport(machine={}, ceiling={"passthrough_events_per_s": 200.0})
    report.parts["evaluator"] = {"events_per_s": 50.0, "p99_ms": 12.0}
    assert report.ratios() == {"evaluator.events_per_s": 0.25}


def test_a_part_can_name_its_own_ceiling_and_offered_rates_are_not_ratios() -> None:
    report = BenchReport(machine={}, ceiling={"passthrough_events_per_s": 1000.0})
    report.parts["delivery"] = {
        "ceiling": "raw_http_per_s",
        "raw_http_per_s": 400.0,
        "deliveries_per_s": 100.0,
        "latency_offered_per_s": 50.0,
    }
    report.parts["evaluator"] = {"events_per_s": 100.0}
    assert report.ratios() == {"delivery.deliveries_per_s": 0.25, "evaluator.events_per_s": 0.1}


def test_a_part_can_name_a_ceiling_per_figure() -> None:
    report = BenchReport(machine={}, ceiling={"passthrough_events_per_s": 1000.0})
    report.parts["backtest"] = {
        "ceiling": {"replay_events_per_s": "loop_events_per_s", "read_events_per_s": "raw_read_events_per_s"},
        "loop_events_per_s": 400.0,
        "raw_read_events_per_s": 50.0,
        "replay_events_per_s": 100.0,
        "read_events_per_s": 10.0,
        "target_events_per_s": 100.0,  # not named: no ratio
    }
    assert report.ratios() == {"backtest.replay_events_per_s": 0.25, "backtest.read_events_per_s": 0.2}


def test_backtest_part_reports_each_figure_beside_its_ceiling_and_the_target(stack: StackInfo) -> None:
    from alertstream.backtest.replay import replay
    from alertstream.bench.backtest import TARGET_EVENTS_PER_S, recorded_history, run_backtest_bench
    from alertstream.schemas.config import load_config
    from alertstream.schemas.events import MetricEvent
    from alertstream.streams.evaluator import Compiled

    out = run_backtest_bench(stack.bootstrap, 2000)
    history = recorded_history(2000)
    expected = replay(history, {"c": Compiled.from_config(load_config(None))})["c"]
    assert out["events"] == 2000
    assert out["processes"] == 3
    assert len(out["replay_cpu_us_per_event_by_process"].split()) == 3
    assert out["notifications"] == len(expected.notifications) > 0
    assert out["read_events"] == sum(1 for r in history if isinstance(r.event, MetricEvent))  # every one read back
    for figure, ceiling in out["ceiling"].items():
        assert out[figure] > 0, figure
        assert out[ceiling] > 0, ceiling
        assert out[figure.replace("events_per_s", "cpu_us_per_event")] > 0
    assert set(out["ceiling"]) == {"replay_events_per_s", "replay_two_configs_events_per_s", "read_events_per_s"}
    assert out["target_replay_events_per_s"] == TARGET_EVENTS_PER_S
    assert out["target_met_cpu"] == (out["replay_cpu_bound_events_per_s"] >= TARGET_EVENTS_PER_S)
    assert out["target_met_wall"] == (out["replay_events_per_s"] >= TARGET_EVENTS_PER_S)


def test_e2e_part_delivers_every_alert_exactly_once_and_reports_every_figure(stack: StackInfo) -> None:
    from alertstream.bench.alertmanager import binary
    from alertstream.bench.e2e import run_e2e_bench

    out = run_e2e_bench(
        stack.bootstrap, stack.database_url, dict(stack.pids), 300, paced_rate=50, paced_seconds=2, idle_seconds=1
    )
    assert out["exactly_once"] is True
    assert out["alerts"] == 300
    for figure in (
        "e2e_notifications_per_s",
        "e2e_notifications_per_cpu_s",
        "burst_p50_ms",
        "burst_p99_ms",
        "paced_p50_ms",
        "paced_p99_ms",
        "idle_cores_total",
        "raw_posts_per_s",
        "dup_heavy_events_per_s",
        "rss_mb_fresh_worker-0",
        "rss_mb_after_deliver-0",
    ):
        assert out[figure] > 0, figure
    if "tansu" in stack.pids:
        assert out["burst_cpu_s_broker"] > 0  # the broker's CPU is part of the cost
    if binary() is not None:
        assert out["am_duplicates"] == 0
        assert out["am_notifications_per_cpu_s"] > 0


def test_ingest_part_publishes_every_acknowledged_alert_exactly_once_beside_alertmanager(stack: StackInfo) -> None:
    from alertstream.bench.ingest import run_ingest_bench

    out = run_ingest_bench(stack.bootstrap, stack.database_url, alerts=600, batch=100, concurrency=2)
    assert out["published_exactly"] is True
    # the warm-up (a tenth of a phase, at least one batch), then 3 rounds of 200 in each phase
    assert (out["rounds"], out["alerts_per_round"]) == (3, 200)
    assert out["alerts_sent"] == 100 + 2 * 3 * 200
    assert out["broker_ack_p50_ms"] > 0
    for figure in ("sequential_alerts_per_s", "concurrent_alerts_per_s", "concurrent_request_p99_ms"):
        assert out[figure] > 0, figure
    # the incumbent, measured in the same run with the same client and batches
    assert out["ceiling"] == "am_sequential_alerts_per_s"
    assert out["am_sequential_alerts_per_s"] > 0
    assert out["am_concurrent_alerts_per_s"] > 0
    # the servers took turns: one ratio per round and phase
    assert len(out["sequential_ratio_by_round"]) == len(out["concurrent_ratio_by_round"]) == 3
