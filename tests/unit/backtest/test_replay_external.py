"""Alerts received from other systems (``events.alerts``) in the replay, with known exact effects.

The proposed config routes alerts labelled ``team=db`` to receiver ``pager`` as well; both configs
send everything to ``ops``. A scripted history of received alerts (the API's records: Alertmanager
``POST /api/v2/alerts``) beside metric events:

* ``DiskFull{team=db}`` sent at T0 and again at T0+60 s (same dedup bucket: suppressed as dedup),
  without ``endsAt``: it ends the resolve timeout (300 s) after the last update, with no event about
  it afterwards — the worker's end-time timer resolves it; the replay must too.
* ``HighLoad{team=web}`` sent at T0+10 s with ``endsAt`` T0+120 s, then resolved explicitly by an
  update whose ``endsAt`` is its receive time (T0+90 s).
* ``Noisy{team=db}`` ends at T0+900 s, after the last event (T0+400 s): resolved only because the
  window (``until``) runs to T0+1000 s.

Expected, exactly: per rule DiskFull 1/1, HighLoad 1/1, Noisy 1/1 under both configs (fired/resolved);
per receiver ops 3/3 under both, pager 0/0 (baseline) and 2/2 (proposed: DiskFull and Noisy).
"""

from __future__ import annotations

from typing import Any

from alertstream.backtest.replay import Recorded, replay
from alertstream.backtest.report import Window, compare
from alertstream.schemas.config import parse_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.external_alerts import ExternalAlertEvent
from alertstream.streams.evaluator import Compiled

T0 = 2_833_334 * 600_000  # a multiple of the 600 s dedup window


def _compiled(version: int, pager: bool) -> Compiled:
    routes: list[dict[str, Any]] = [{"receiver": "ops", "continue": True}]
    if pager:
        routes.append({"match": {"team": "db"}, "receiver": "pager"})
    doc = {
        "version": version,
        "rules": [{"id": "cpu", "metric": "cpu", "operator": ">", "warning": 70, "clear": 60}],
        "routes": {"receiver": "ops", "routes": routes},
        "receivers": [
            {"name": "ops", "channel": "webhook", "url": "https://hooks.example.com/a"},
            {"name": "pager", "channel": "pagerduty", "routing_key_env": "PD_KEY"},
        ],
    }
    return Compiled.from_config(parse_config(doc, "test"))


def _received(at: int, name: str, team: str, ends_at: int | None = None) -> Recorded:
    labels = {"alertname": name, "team": team, "severity": "critical"}
    return Recorded(at, 1, ExternalAlertEvent(f"{name}-{at}", "acme", labels, at, ends_at=ends_at))


def _history() -> list[Recorded]:
    out = [
        _received(T0, "DiskFull", "db"),
        _received(T0 + 10_000, "HighLoad", "web", ends_at=T0 + 120_000),
        _received(T0 + 20_000, "Noisy", "db", ends_at=T0 + 900_000),
        _received(T0 + 60_000, "DiskFull", "db"),
        _received(T0 + 90_000, "HighLoad", "web", ends_at=T0 + 90_000),
    ]
    # healthy metric readings every 20 s keep time moving past DiskFull's end (T0+360 s)
    out += [
        Recorded(at, 0, MetricEvent(f"m-{at}", "acme", "cpu", 20.0, "host-1", at))
        for at in range(T0 + 5_000, T0 + 400_001, 20_000)
    ]
    return sorted(out, key=lambda r: r.at)


def test_received_alerts_replay_with_the_exact_effect_of_a_route_change() -> None:
    events = _history()
    outcomes = replay(
        events, {"baseline": _compiled(1, pager=False), "proposed": _compiled(2, pager=True)}, until=T0 + 1_000_000
    )
    report = compare(outcomes["baseline"], outcomes["proposed"], Window(T0, T0 + 1_000_000, len(events), 0))

    def sides(table: dict[str, Any]) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
        return {
            name: tuple((row[side]["fired"], row[side]["resolved"]) for side in ("baseline", "proposed"))  # type: ignore[misc]
            for name, row in table.items()
        }

    assert sides(report["by_rule"]) == {
        "DiskFull": ((1, 1), (1, 1)),
        "HighLoad": ((1, 1), (1, 1)),
        "Noisy": ((1, 1), (1, 1)),
    }
    assert sides(report["by_receiver"]) == {"ops": ((3, 3), (3, 3)), "pager": ((0, 0), (2, 2))}
    assert report["by_rule"]["DiskFull"]["baseline"]["suppressed"] == {"dedup": 1}

    proposed = outcomes["proposed"].notifications
    resolved = {n.rule_id: n.at for n in proposed if n.status == "resolved"}
    # each resolution goes out when the worker's would: DiskFull at its timeout (last update + 300 s)
    # by the end-time timer, HighLoad with the update that ended it, Noisy at its end (within the window)
    assert resolved == {"DiskFull": T0 + 360_000, "HighLoad": T0 + 90_000, "Noisy": T0 + 900_000}
    assert {n.rule_id: n.receivers for n in proposed if n.status == "firing"} == {
        "DiskFull": ("ops", "pager"),
        "HighLoad": ("ops",),
        "Noisy": ("ops", "pager"),
    }


def test_without_a_window_end_the_replay_resolves_up_to_the_last_event() -> None:
    outcome = replay(_history(), {"c": _compiled(1, pager=False)})["c"]
    # Noisy ends after the last event: still firing at the end of this history
    assert sorted((n.rule_id, n.status) for n in outcome.notifications) == [
        ("DiskFull", "firing"),
        ("DiskFull", "resolved"),
        ("HighLoad", "firing"),
        ("HighLoad", "resolved"),
        ("Noisy", "firing"),
    ]
