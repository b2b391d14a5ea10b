"""The alerts on alertstream itself: a valid rules file (promtool), every alert firing on the series it
guards against and on no other (promtool's unit tests, alert_rules_test.yaml), a runbook section for
each, and the chart's PrometheusRule carrying exactly the file's groups.

The expressions' metric names are checked against a real Prometheus scraping a running pipeline in
tests/integration/alertstream/test_dashboard.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.chart import CHART, ROOT, by_kind, render

RULES = CHART / "rules" / "alertstream.rules.yaml"
RULE_TESTS = Path(__file__).with_name("alert_rules_test.yaml")
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/alertstream/alertstream/blob/main/docs/runbook.md#"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="needs promtool from Debian's prometheus (make test installs it as root)"
)


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


@needs_promtool
def test_the_rules_file_is_valid() -> None:
    checked = _promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in checked.stdout


@needs_promtool
def test_each_alert_fires_on_what_it_guards_and_on_nothing_else() -> None:
    tested = _promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # and no alert goes without a case that makes it fire
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {c["alertname"] for t in cases for c in t["alert_rule_test"] if c["exp_alerts"]}
    assert firing == {a["alert"] for a in _alerts()}


def test_every_alert_has_a_severity_a_summary_and_its_runbook_section() -> None:
    headings = set(re.findall(r"^## (Alertstream\w+)$", RUNBOOK.read_text(), flags=re.MULTILINE))
    for alert in _alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert alert["annotations"]["summary"], name
        assert alert["annotations"]["description"], name
        assert alert["annotations"]["runbook_url"] == RUNBOOK_URL + name.lower(), name
        assert name in headings, f"docs/runbook.md has no section '## {name}'"
    assert headings == {a["alert"] for a in _alerts()}, "runbook sections without an alert"


def test_the_chart_renders_the_rules_file_as_a_prometheus_rule_only_when_asked() -> None:
    assert by_kind(render(), "PrometheusRule") == {}
    docs = render({"metrics": {"prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}}})
    (rule,) = by_kind(docs, "PrometheusRule").values()
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # the same groups, Prometheus' own {{ $labels }} templates untouched by Helm
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
