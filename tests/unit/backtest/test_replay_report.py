"""The backtest core on a scripted history whose effects are known by construction.

Four changes between a baseline and a proposed config, each on its own rule and sources, so each
effect can be stated exactly (and any extra or missing notification fails):

* threshold: `cpu` warning 70 -> 80. Source `c75` sits at 75 (fires only under the baseline),
  `c85` at 85 (fires under both). Each then clears: one resolve per notified firing.
* for_count: `mem` for_count 1 -> 3. Source `m2` breaches twice, then clears: baseline fires,
  suppresses the second breach as dedup and resolves; proposed never fires (two breaches < 3).
* dedup window: `lat` dedup 600 s -> 60 s with repeat_interval 0 ("once per dedup bucket").
  Source `l` breaches every 30 s for 10 minutes from a 600 s-aligned start: one 600 s bucket
  (baseline: 1 firing, 19 suppressed as dedup) vs ten 60 s buckets (proposed: 10 firings, 10 dedup).
* route: the proposed config also sends critical alerts to receiver `pager`. Source `c95` goes to 95
  (critical, fires under both) and clears.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from alertstream.backtest.replay import Recorded, replay
from alertstream.backtest.report import Window, compare, increase
from alertstream.schemas.config import parse_config
from alertstream.schemas.events import MetricEvent
from alertstream.streams.evaluator import Compiled

T0 = 2_833_334 * 600_000  # a multiple of 600 s: dedup buckets start here


def config_doc(version: int, cpu_warning: float, mem_for: int, lat_dedup: float, pager: bool) -> dict[str, Any]:
    """The config of one side, as the YAML document (the integration test writes it to a file)."""
    routes: list[dict[str, Any]] = [{"receiver": "ops", "continue": True}]
    if pager:
        routes.append({"match": {"severity": "critical"}, "receiver": "pager"})
    data = {
        "version": version,
        "rules": [
            {"id": "cpu", "metric": "cpu", "operator": ">", "warning": cpu_warning, "critical": 90, "clear": 60},
            {"id": "mem", "metric": "mem", "operator": ">", "warning": 80, "clear": 50, "for_count": mem_for},
            {
                "id": "lat",
                "metric": "lat",
                "operator": ">",
                "warning": 1.0,
                "dedup_window_seconds": lat_dedup,
                "repeat_interval_seconds": 0,
            },
        ],
        "routes": {"receiver": "ops", "routes": routes},
        "receivers": [
            {"name": "ops", "channel": "webhook", "url": "https://hooks.example.com/a"},
            {"name": "pager", "channel": "pagerduty", "routing_key_env": "PD_KEY"},
        ],
    }
    return data


def _config(version: int, cpu_warning: float, mem_for: int, lat_dedup: float, pager: bool) -> Compiled:
    return Compiled.from_config(parse_config(config_doc(version, cpu_warning, mem_for, lat_dedup, pager), "test"))


BASELINE = _config(1, cpu_warning=70, mem_for=1, lat_dedup=600, pager=False)
PROPOSED = _config(2, cpu_warning=80, mem_for=3, lat_dedup=60, pager=True)


def _history() -> list[Recorded]:
    out: list[Recorded] = []

    def ev(at: int, metric: str, source: str, value: float) -> None:
        out.append(Recorded(at, 0, MetricEvent(f"{source}-{at}", "acme", metric, value, source, at)))

    for source, value in (("c75", 75.0), ("c85", 85.0), ("c95", 95.0)):
        ev(T0 + 1_000, "cpu", source, value)
        ev(T0 + 2_000, "cpu", source, 50.0)  # below clear: resolves
    for i, value in enumerate((90.0, 90.0, 40.0)):
        ev(T0 + 3_000 + i * 1_000, "mem", "m2", value)
    for i in range(20):
        ev(T0 + i * 30_000, "lat", "l", 2.0)
    return sorted(out, key=lambda r: r.at)


def test_each_change_has_its_exact_effect() -> None:
    events = _history()
    outcomes = replay(events, {"baseline": BASELINE, "proposed": PROPOSED})
    window = Window(T0, T0 + 600_000, len(events), 0)
    report = compare(outcomes["baseline"], outcomes["proposed"], window)

    by_rule = {rule: (row["baseline"]["fired"], row["proposed"]["fired"]) for rule, row in report["by_rule"].items()}
    assert by_rule == {"cpu": (3, 2), "mem": (1, 0), "lat": (1, 10)}
    resolved = {
        rule: (row["baseline"]["resolved"], row["proposed"]["resolved"]) for rule, row in report["by_rule"].items()
    }
    assert resolved == {"cpu": (3, 2), "mem": (1, 0), "lat": (0, 0)}
    assert report["by_rule"]["lat"]["baseline"]["suppressed"] == {"dedup": 19}
    assert report["by_rule"]["lat"]["proposed"]["suppressed"] == {"dedup": 10}
    assert report["by_rule"]["lat"]["delta"] == {"fired": 9, "resolved": 0, "suppressed": {"dedup": -9}}

    receivers = {r: (row["baseline"], row["proposed"]) for r, row in report["by_receiver"].items()}
    # ops gets everything under both; pager only the critical c95 firing (a resolve is routed by
    # its own status/severity: the tree matches severity critical for the resolve of a critical too)
    assert receivers["ops"][0]["fired"] == 5
    assert receivers["ops"][1]["fired"] == 12
    assert receivers["pager"][0] == {"fired": 0, "resolved": 0, "suppressed": {}}
    assert receivers["pager"][1] == {"fired": 1, "resolved": 1, "suppressed": {}}

    fps = report["fingerprints"]
    assert {(f["rule_id"], f["entity"]) for f in fps["stop_firing"]} == {("cpu", "c75"), ("mem", "m2")}
    assert fps["newly_firing_count"] == 0
    assert fps["severity_changed_count"] == 0
    assert report["by_rule"]["mem"]["baseline"]["suppressed"] == {"dedup": 1}  # m2's second breach
    assert report["by_rule"]["mem"]["proposed"]["suppressed"] == {}  # pending breaches are not suppressions
    assert report["totals"]["baseline"] == {"version": 1, "fired": 5, "resolved": 4, "suppressed": 20}
    assert report["totals"]["proposed"] == {"version": 2, "fired": 12, "resolved": 2, "suppressed": 10}
    assert increase(report) == (12 + 2) - (5 + 4)


def test_severity_change_and_new_fingerprint_are_listed() -> None:
    # proposed lowers the cpu critical threshold: c85 now fires critical; a new source at 72 is
    # newly firing under a lower warning threshold.
    base = _config(1, cpu_warning=80, mem_for=1, lat_dedup=600, pager=False)
    data_critical = _config(2, cpu_warning=70, mem_for=1, lat_dedup=600, pager=False)
    events = [
        Recorded(T0 + 1_000, 0, MetricEvent("a", "acme", "cpu", 85.0, "c85", T0 + 1_000)),
        Recorded(T0 + 2_000, 0, MetricEvent("b", "acme", "cpu", 72.0, "c72", T0 + 2_000)),
    ]
    out = replay(events, {"baseline": base, "proposed": data_critical})
    report = compare(out["baseline"], out["proposed"], Window(T0, T0 + 10_000, 2, 0))
    assert [f["entity"] for f in report["fingerprints"]["newly_firing"]] == ["c72"]
    assert report["fingerprints"]["stop_firing"] == []


def test_warmup_builds_state_without_counting() -> None:
    # An episode that started before the window is already firing: its repeat inside the window is
    # suppressed as dedup (same bucket), not a new firing, and nothing before count_from is counted.
    events = [
        Recorded(T0 + 1_000, 0, MetricEvent("a", "acme", "cpu", 95.0, "h", T0 + 1_000)),
        Recorded(T0 + 61_000, 0, MetricEvent("b", "acme", "cpu", 95.0, "h", T0 + 61_000)),
    ]
    warm = replay(events, {"baseline": BASELINE}, count_from=T0 + 60_000)["baseline"]
    cold = replay(events[1:], {"baseline": BASELINE})["baseline"]
    assert warm.notifications == []
    assert warm.suppressed == Counter({("cpu", "dedup"): 1})
    assert [n.status for n in cold.notifications] == ["firing"]


def test_noise_figures() -> None:
    events = _history()
    outcomes = replay(events, {"baseline": BASELINE, "proposed": PROPOSED})
    report = compare(outcomes["baseline"], outcomes["proposed"], Window(T0, T0 + 86_400_000, len(events), 0))
    base = report["noise"]["baseline"]
    # five episodes under the baseline (c75, c85, c95, m2, l); four resolved within a second or two
    assert base["episodes"] == 5
    assert base["flapping_episodes"] == 4
    assert base["notifications_per_day"] == 9.0
    assert base["median_time_to_notify_s"] == 0.0  # for_count 1: notified at the first breach
    timeline = report["timeline"]
    assert sum(timeline["series"]["baseline"]) == 9
    assert sum(timeline["series"]["proposed"]) == 14
