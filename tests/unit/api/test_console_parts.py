"""The console's pure parts: chart buckets, the matcher preview's SQL narrowing, the backtest
request checks, and the page's assets (every module the page imports ships with it)."""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertstream.api.console import buckets
from alertstream.api.console.backtest import checked_config, window
from alertstream.api.console.backtest_runner import JobSpec
from alertstream.api.console.models import BacktestRequest
from alertstream.api.console.pages import ASSETS, CSP
from alertstream.api.console.preview import prefilter
from alertstream.api.problems import ApiProblem
from alertstream.schemas.matchers import Matcher

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "width"),
    [(timedelta(minutes=30), 60), (timedelta(hours=1), 300), (timedelta(hours=24), 1800), (timedelta(days=7), 21600)],
)
def test_a_range_gets_a_nice_bucket_width_of_at_most_48_bars(span: timedelta, width: int) -> None:
    assert buckets.bucket_seconds(NOW - span, NOW) == width
    assert len(buckets.starts(NOW - span, NOW, width)) <= 50


def test_buckets_line_up_on_the_epoch_and_cover_the_range() -> None:
    since = datetime(2026, 12, 1, 10, 7, 31, tzinfo=UTC)
    starts = buckets.starts(since, since + timedelta(minutes=40), 900)
    assert starts[0] == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert starts[-1] == datetime(2026, 12, 1, 10, 45, tzinfo=UTC)
    assert len(starts) == 4


def test_equality_on_alert_fields_narrows_the_preview_query_and_nothing_else_does() -> None:
    matchers = [
        Matcher("alertname", "=", "cpu-high"),
        Matcher("entity", "=~", "db-.*"),
        Matcher("severity", "!=", "info"),
        Matcher("team", "=", "payments"),
    ]
    assert prefilter(matchers, "acme") == (["tenant = %s", "rule_id = %s"], ["acme", "cpu-high"])
    assert prefilter([Matcher("tenant", "=", "globex")], None) == (["tenant = %s"], ["globex"])


def _request(**over: object) -> BacktestRequest:
    return BacktestRequest.model_validate({"config": "version: 1", **over})


def test_the_backtest_window_is_bounded() -> None:
    assert window(_request(since="12h"), NOW) == (NOW - timedelta(hours=12), NOW)
    assert window(_request(), NOW) == (NOW - timedelta(hours=24), NOW)
    start = NOW - timedelta(days=2)
    assert window(_request(**{"from": start.isoformat(), "to": NOW.isoformat()}), NOW) == (start, NOW)
    for bad, says in (
        ({"since": "8d"}, "at most 7 days"),
        ({"since": "1h", "from": start.isoformat()}, "not both"),
        ({"from": NOW.isoformat(), "to": start.isoformat()}, "empty"),
        ({"from": start.isoformat(), "to": (NOW + timedelta(hours=1)).isoformat()}, "future"),
        ({"since": "1h", "warmup": "2d"}, "warm-up"),
    ):
        with pytest.raises(ApiProblem) as err:
            window(_request(**bad), NOW)
        assert err.value.status == 422
        assert says in err.value.detail


def test_a_config_is_validated_like_config_validate_and_aliases_are_refused() -> None:
    checked_config("version: 3\nrules: []\n", "config")
    with pytest.raises(ApiProblem) as err:
        checked_config("version: 3\nrules:\n  - {id: x, metric: m, operator: '>', warning: nope}\n", "config")
    assert err.value.detail.startswith("config: rules[0].warning: Input should be a valid number")
    with pytest.raises(ApiProblem) as err:
        checked_config("a: &x [1, 2]\nb: [*x, *x]\n", "baseline")
    assert err.value.detail == "baseline: YAML aliases (*name) are not accepted here"
    with pytest.raises(ApiProblem) as err:
        checked_config("version: 1\nrules: [\n", "config")
    assert "not valid YAML at line" in err.value.detail


def test_the_job_runs_the_backtest_command_with_both_files_and_the_window() -> None:
    spec = JobSpec(NOW - timedelta(hours=1), NOW, "10m", "acme", "version: 2", "version: 1")
    assert spec.args(Path("/tmp/j")) == [
        "--config",
        "/tmp/j/proposed.yaml",
        "--from",
        "2026-12-01T11:00:00Z",
        "--to",
        "2026-12-01T12:00:00Z",
        "--baseline",
        "/tmp/j/baseline.yaml",
        "--tenant",
        "acme",
        "--warmup",
        "10m",
        "--json",
        "--out",
        "/tmp/j/report.html",
    ]


def test_every_module_the_page_loads_is_an_asset_and_nothing_comes_from_elsewhere() -> None:
    page = ASSETS["index.html"].body.decode()
    loaded = {u for u in re.findall(r'(?:src|href)="([^"]*)"', page) if not u.startswith(("/", "#"))}
    assert loaded == set(), "the page refers to something that is not on this server"
    assets = set(re.findall(r'(?:src|href)="/console/assets/([^"]*)"', page))
    assert assets == {"favicon.svg", "console.css", "js/main.js"}
    seen, todo = set(), ["js/main.js"]
    while todo:
        name = todo.pop()
        assert name in ASSETS, f"{name} is imported but not shipped"
        seen.add(name)
        text = ASSETS[name].body.decode()
        assert "https://" not in text
        assert "http://" not in text.replace('"http://www.w3.org/2000/svg"', "")
        for target in re.findall(r'^import .* from "(\.[^"]+)";$', text, flags=re.M):
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
            if resolved not in seen:
                todo.append(resolved)
    assert {n for n in ASSETS if n.endswith(".js")} == seen  # no dead module either
    assert "script-src 'self'" in CSP
    assert "connect-src 'self'" in CSP
