"""Every query of the Grafana dashboard, run against a real Prometheus (Debian's) scraping a real
worker, deliver and store that have processed events: each one returns data, finite numbers.

Grafana's variables are replaced the way Grafana would: ``$job`` and ``$namespace`` by the values
the dashboard's own variable queries find (the target carries ``namespace="alerting"``, as a
Kubernetes scrape would), ``$instance`` by its "All" value (``.*``), ``$__rate_interval`` by a
window that covers the run. The same data, over the run, is drawn from the dashboard's layout and
screenshotted (docs/dashboard.png, rewritten when ``ALERTSTREAM_WRITE_DOCS=1``).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from alertstream.bench.pipeline import PROBE_METRIC, Pipeline, e2e_config
from alertstream.consumers.db import create_schema, drop_schema
from alertstream.local_stack import StackInfo
from alertstream.runtime.kafka_clients import producer_config
from tests.browser import CHROMIUM, browser_page
from tests.dashboard_render import Series, legend, render
from tests.polling import eventually
from tests.prometheus_server import PROMETHEUS, PrometheusServer
from tests.webhook_sink import WebhookSink

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason="needs Debian's prometheus (make test installs it as root)"),
]

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "helm" / "alertstream" / "dashboards" / "alertstream.json"
RULES = ROOT / "deploy" / "helm" / "alertstream" / "rules" / "alertstream.rules.yaml"
PICTURE = ROOT / "docs" / "dashboard.png"
NAMESPACE = "alerting"
WINDOW = "3m"


def _targets(dashboard: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(p, t) for p in dashboard["panels"] for t in p.get("targets", [])]


def _variable_query(query: str) -> str:
    """``label_values(METRIC{...}, LABEL)`` as the PromQL it stands for."""
    inner = query.removeprefix("label_values(").removesuffix(")")
    selector, _, label = inner.rpartition(",")
    return f"group by ({label.strip()}) ({selector.strip()})"


def _substitute(expr: str, values: dict[str, str]) -> str:
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(f"${name}", value)
    return expr


def _publish(env: dict[str, str], lines: list[dict[str, Any]]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alertstream", "publish", "events.metric", "-"],
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_dashboard_query_returns_data_from_a_running_pipeline(stack: StackInfo, tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    prefix = f"dash{uuid.uuid4().hex[:8]}."
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with WebhookSink() as sink:
        pipeline = Pipeline(stack.bootstrap, create_schema(stack.database_url, schema), prefix, e2e_config(sink.url))
        try:
            created = subprocess.run(
                [sys.executable, "-m", "alertstream", "topics", "create"],
                env=pipeline.env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert created.returncode == 0, created.stderr
            pipeline.start()
            pipeline.start_process("store", ["store"])
            targets = [f"127.0.0.1:{port}" for port in pipeline.ports.values()]
            with PrometheusServer(targets, labels={"namespace": NAMESPACE}, rule_files=[RULES]) as prom:
                started = time.time()
                run = uuid.uuid4().hex[:6]
                at = int(time.time() * 1000) - 10_000
                fresh = [
                    {"tenant": "dash", "metric": PROBE_METRIC, "value": 1.0, "source": f"{run}-{i}", "occurred_at": at}
                    for i in range(6)
                ]
                repeats = [  # later occurrences of the first source's episode: folded (dedup)
                    {
                        "tenant": "dash",
                        "metric": PROBE_METRIC,
                        "value": 2.0,
                        "source": f"{run}-0",
                        "occurred_at": at + n,
                    }
                    for n in (1000, 2000, 3000)
                ]
                _publish(pipeline.env, fresh + repeats)
                producer = Producer(producer_config(stack.bootstrap))
                producer.produce(f"{prefix}events.metric", key=b"k", value=b"not avro")  # one invalid event
                assert producer.flush(10) == 0
                assert eventually(lambda: len(sink.bodies) >= 6, 180, check=pipeline.check), (
                    "notifications did not arrive"
                )

                values = {"__rate_interval": WINDOW, "instance": ".*"}
                for var in dashboard["templating"]["list"]:
                    if var["type"] != "query":
                        continue
                    query = _variable_query(_substitute(var["query"]["query"], values))
                    found = sorted({labels[var["name"]] for labels, _ in prom.series(query)})
                    if var["name"] != "instance":
                        assert found == (["alertstream"] if var["name"] == "job" else [NAMESPACE]), (var["name"], found)
                        values[var["name"]] = "|".join(found)
                    else:
                        assert sorted(found) == sorted(targets)

                answers: dict[str, list[tuple[dict[str, str], str]]] = {}

                def all_answer() -> bool:
                    for _panel, target in _targets(dashboard):
                        expr = _substitute(target["expr"], values)
                        result = prom.series(expr)
                        answers[expr] = result
                        if not result or not all(math.isfinite(float(v)) for _, v in result):
                            return False
                    return True

                answered = eventually(all_answer, 120, check=pipeline.check)
                empty = {e: r for e, r in answers.items() if not r or not all(math.isfinite(float(v)) for _, v in r)}
                assert answered, f"queries without finite data: {json.dumps(empty, indent=1)}"
                # each consumer exports the lag of its own group: the worker (Faust), deliver and store
                groups = {
                    f"alertstream-worker-{prefix.strip('.')}",
                    f"{prefix}alertstream-deliver-webhook",
                    f"{prefix}alertstream-store",
                }

                def lag_groups() -> set[str]:
                    return {labels["group"] for labels, _ in prom.series("alertstream_consumer_lag")}

                assert eventually(lambda: lag_groups() == groups, 60, check=pipeline.check), (
                    lag_groups(),
                    _lag_lines(pipeline),
                )
                # and the queries of what surely happened are not just there but above zero
                for expr, labels in _HAPPENED:
                    got = {json.dumps(lb, sort_keys=True): float(v) for lb, v in prom.series(_substitute(expr, values))}
                    assert got.get(json.dumps(labels, sort_keys=True), 0.0) > 0, (expr, labels, got)
                _check_alert_rules(prom)
                if os.environ.get("ALERTSTREAM_WRITE_DOCS") == "1":
                    _traffic(stack.bootstrap, prefix, run, seconds=90)  # a picture with some shape to it
                _picture(dashboard, prom, values, started, tmp_path)
        finally:
            pipeline.stop()
            drop_schema(stack.database_url, schema)


#: (query, the series that must be above zero after the run)
_HAPPENED = [
    (
        'sum by (topic) (rate(alertstream_events_consumed_total{job=~"$job"}[$__rate_interval]))',
        {"topic": "events.metric"},
    ),
    (
        'sum by (reason) (rate(alertstream_events_invalid_total{job=~"$job"}[$__rate_interval]))',
        {"reason": "bad_magic"},
    ),
    ('sum by (reason) (rate(alertstream_alerts_suppressed_total{job=~"$job"}[$__rate_interval]))', {"reason": "dedup"}),
    (
        'sum by (channel, outcome) (rate(alertstream_notifications_total{job=~"$job"}[$__rate_interval]))',
        {"channel": "webhook", "outcome": "sent"},
    ),
    ('sum by (kind) (rate(alertstream_store_records_total{job=~"$job"}[$__rate_interval]))', {"kind": "alert"}),
]


def _check_alert_rules(prom: PrometheusServer) -> None:
    """The alerts on alertstream (docs/runbook.md) evaluate without error here, and every metric
    they read is one these processes export: a renamed metric would leave an alert that never fires."""
    names = set(re.findall(r"\balertstream_[a-z_]+", RULES.read_text()))
    assert names, RULES
    for name in sorted(names):
        assert prom.series(f'count({{__name__="{name}"}})'), f"no series {name}: an alert reads a metric nobody exports"

    def evaluated() -> bool:
        rules = prom.rules()
        return len(rules) > 0 and all(r["health"] == "ok" for r in rules)

    assert eventually(evaluated, 30), [(r["name"], r["health"], r.get("lastError")) for r in prom.rules()]
    assert {r["name"] for r in prom.rules()} == set(re.findall(r"^\s+- alert: (\w+)$", RULES.read_text(), re.M))
    # a healthy pipeline pages nobody (the rules with a `for` have not had the time; the others must not)
    assert prom.series('ALERTS{alertstate="firing"}') == []


def _traffic(bootstrap: str, prefix: str, run: str, seconds: float) -> None:
    """New and repeated probe events every second (and an invalid one now and then)."""
    from alertstream.schemas import codec as c
    from alertstream.schemas.codec import Codec
    from alertstream.schemas.events import MetricEvent

    codec, producer = Codec(), Producer(producer_config(bootstrap))
    topic = f"{prefix}events.metric"
    end, i = time.time() + seconds, 0
    while time.time() < end:
        now = int(time.time() * 1000)
        for source in (f"{run}-t{i}", f"{run}-t{i // 5}"):
            event = MetricEvent(f"{run}-e{i}-{source}", "dash", PROBE_METRIC, 1.0, source, now)
            producer.produce(topic, key=event.key(), value=codec.encode(c.METRIC_EVENT, event.to_record()))
        if i % 7 == 0:
            producer.produce(topic, key=b"k", value=b"not avro")
        producer.flush(10)
        i += 1
        time.sleep(1.0)


def _lag_lines(pipeline: Pipeline) -> dict[str, list[str]]:
    import urllib.request

    out = {}
    for name, port in pipeline.ports.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            out[name] = [line for line in response.read().decode().splitlines() if "consumer_lag" in line]
    return out


def _picture(
    dashboard: dict[str, Any], prom: PrometheusServer, values: dict[str, str], start: float, tmp: Path
) -> None:
    """The dashboard drawn with the run's data, screenshotted (when Chromium is installed)."""
    end = time.time()
    values = {**values, "__rate_interval": "30s"}  # what Grafana picks for a short range
    data: dict[int, list[Series]] = {}
    for panel, target in _targets(dashboard):
        for result in prom.query_range(_substitute(target["expr"], values), start - 30, end, 2):
            points = [(float(t), float(v)) for t, v in result["values"]]
            data.setdefault(panel["id"], []).append(
                Series(legend(target.get("legendFormat", ""), result["metric"]), points)
            )
    page = tmp / "dashboard.html"
    page.write_text(
        render(
            dashboard,
            data,
            start - 30,
            end,
            "rendered from the dashboard JSON with data of tests/integration/alertstream/test_dashboard.py",
        )
    )
    if CHROMIUM is None:
        return
    out = PICTURE if os.environ.get("ALERTSTREAM_WRITE_DOCS") == "1" else tmp / "dashboard.png"
    with browser_page(width=1620, height=900) as browser:
        browser.page.goto(page.as_uri())
        browser.page.screenshot(path=str(out), full_page=True)
        assert browser.foreign == []
    assert out.stat().st_size > 10_000
