"""The backtest runs the worker's lifecycle: recorded silences and user actions, inhibition, escalation.

A scripted history over four CPU sources (warning at 75 from T+10 s, every 30 s, cleared at T+630 s)
and one DB pool source, with effects known by construction:

* ``s1`` is covered by a silence recorded at T+5 s, active until T+300 s: both configs hold its first
  notification (one ``suppressed`` record naming the silence), release it when the silence ends (the
  tick at T+300 s) and send its resolve.
* ``s2`` has its DB pool saturated (critical) from T+0 s: the proposed config's inhibit rule holds its
  CPU warning for the whole episode (one ``suppressed`` record, no firing, no resolve); the baseline
  notifies it.
* ``s3`` is acknowledged at T+60 s (a recorded user action): both configs send the acknowledgement
  to ``ops``; the proposed config's escalation policy does not page for it.
* ``s4`` is not acknowledged: the proposed config's policy pages ``lead`` 120 s after it fired (as
  it does for the pool alert and for ``s1`` 120 s after its release), and their resolves reach
  ``lead`` too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from alertstream.backtest.replay import Noted, Outcome, Recorded, proposed_silences, replay
from alertstream.schemas.actions import new_action
from alertstream.schemas.config import parse_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.matchers import parse_matchers
from alertstream.schemas.silences import SilenceError, new_silence
from alertstream.streams.evaluator import Compiled
from alertstream.streams.fingerprint import fingerprint

T0 = 2_833_334 * 600_000
S = 1_000
SOURCES = ("s1", "s2", "s3", "s4")
SIDES = ("baseline", "proposed")


def lifecycle_doc(proposed: bool, wait_seconds: int = 120) -> dict[str, Any]:
    """The config of one side (the integration test runs the proposed one, with a shorter wait)."""
    route: dict[str, Any] = {"receiver": "ops"}
    doc: dict[str, Any] = {
        "version": 2 if proposed else 1,
        "rules": [
            {
                "id": "cpu",
                "metric": "cpu",
                "operator": ">",
                "warning": 70,
                "clear": 60,
                "dedup_window_seconds": 3600,
                "repeat_interval_seconds": 3600,
            },
            {"id": "pool", "metric": "db_pool", "operator": ">", "critical": 0.9, "clear": 0.5},
        ],
        "receivers": [
            {"name": "ops", "channel": "webhook", "url": "https://hooks.example.com/ops"},
            {"name": "lead", "channel": "webhook", "url": "https://hooks.example.com/lead"},
        ],
        "routes": route,
    }
    if proposed:
        doc["inhibit_rules"] = [
            {
                "name": "pool-hides-cpu",
                "source_matchers": ['alertname="pool"', 'severity="critical"'],
                "target_matchers": ['alertname="cpu"'],
                "equal": ["entity"],
            }
        ]
        doc["escalation_policies"] = [{"name": "db", "steps": [{"wait_seconds": wait_seconds}, {"notify": "lead"}]}]
        route["routes"] = [{"receiver": "ops", "escalation_policy": "db"}]
    return doc


def _history() -> list[Recorded]:
    out: list[Recorded] = []

    def ev(at: int, metric: str, source: str, value: float) -> None:
        out.append(Recorded(T0 + at, 0, MetricEvent(f"{source}-{metric}-{at}", "acme", metric, value, source, T0 + at)))

    ev(0, "db_pool", "s2", 0.95)
    for k in range(21):
        for source in SOURCES:
            ev(10 * S + k * 30 * S, "cpu", source, 75.0)
    for source in SOURCES:
        ev(630 * S, "cpu", source, 50.0)
    ev(640 * S, "db_pool", "s2", 0.4)
    return sorted(out, key=lambda r: r.at)


def _cpu(source: str) -> str:
    return fingerprint("cpu", "acme", source)


SILENCE = new_silence(parse_matchers('entity="s1"'), T0 + 5 * S, T0 + 300 * S, "ops", "maintenance", T0 + 5 * S)
ACK = new_action("acknowledge", _cpu("s3"), "acme", "api-key:k1", T0 + 60 * S, "looking")
INPUTS = [Noted(T0 + 5 * S, SILENCE), Noted(T0 + 60 * S, ACK)]


def _records(outcome: Outcome) -> Counter[tuple[str, str, str, str, tuple[str, ...]]]:
    """(entity, status, event, reason, receivers) of every record, with multiplicity."""
    return Counter((n.entity, n.status, n.event, n.reason, n.receivers) for n in outcome.records)


def _run() -> dict[str, Outcome]:
    configs = {name: Compiled.from_config(parse_config(lifecycle_doc(name == "proposed"), "test")) for name in SIDES}
    return replay(_history(), configs, lifecycle=INPUTS)


def test_silence_ack_inhibition_and_escalation_have_their_exact_effect_under_each_config() -> None:
    out = _run()
    both = {
        ("s1", "firing", "suppressed", "silenced", ()): 1,
        ("s1", "firing", "notify", "released", ("ops",)): 1,
        ("s3", "firing", "notify", "new", ("ops",)): 1,
        ("s3", "firing", "acknowledged", "acknowledged", ("ops",)): 1,
        ("s3", "resolved", "notify", "cleared", ("ops",)): 1,
        ("s4", "firing", "notify", "new", ("ops",)): 1,
        ("s2", "firing", "notify", "new", ("ops",)): 1,  # the pool alert
    }
    assert _records(out["baseline"]) == Counter(
        {
            **both,
            ("s2", "firing", "notify", "new", ("ops",)): 2,  # its pool alert and its cpu alert
            ("s2", "resolved", "notify", "cleared", ("ops",)): 2,
            ("s4", "resolved", "notify", "cleared", ("ops",)): 1,
            ("s1", "resolved", "notify", "cleared", ("ops",)): 1,
        }
    )
    assert _records(out["proposed"]) == Counter(
        {
            **both,
            ("s2", "firing", "suppressed", "inhibited", ()): 1,
            # paged 120 s after their first notification: s4, s2's pool alert, s1 (released at 300 s)
            ("s4", "firing", "notify", "escalation", ("lead",)): 1,
            ("s2", "firing", "notify", "escalation", ("lead",)): 1,
            ("s1", "firing", "notify", "escalation", ("lead",)): 1,
            # and their resolves go to whoever was paged too
            ("s4", "resolved", "notify", "cleared", ("ops", "lead")): 1,
            ("s2", "resolved", "notify", "cleared", ("ops", "lead")): 1,
            ("s1", "resolved", "notify", "cleared", ("ops", "lead")): 1,
        }
    )


def test_the_held_notifications_are_counted_per_rule_by_reason_and_are_not_notifications() -> None:
    out = _run()
    base, prop = out["baseline"], out["proposed"]
    held = {k: v for k, v in base.suppressed.items() if k[1] != "dedup"}
    # every occurrence held counts (s1: its 10 events before 300 s; s2: all 21), one record per cause
    assert held == {("cpu", "silenced"): 10}
    assert {k: v for k, v in prop.suppressed.items() if k[1] != "dedup"} == {
        ("cpu", "silenced"): 10,
        ("cpu", "inhibited"): 21,
    }
    assert all(n.event == "notify" for n in base.notifications + prop.notifications)
    assert len(base.notifications) == 10
    assert len(prop.notifications) == 11


def test_without_the_recorded_silence_and_action_the_alerts_go_out_and_escalate() -> None:
    configs = {"proposed": Compiled.from_config(parse_config(lifecycle_doc(True), "test"))}
    out = replay(_history(), configs)["proposed"]
    pages = sorted((n.rule_id, n.entity) for n in out.records if n.reason == "escalation")
    assert pages == [("cpu", "s1"), ("cpu", "s3"), ("cpu", "s4"), ("pool", "s2")]  # s2's cpu: inhibited
    assert not [n for n in out.records if n.event in ("acknowledged", "suppressed") and n.entity != "s2"]


def test_a_proposed_silence_holds_its_alerts_under_the_proposed_config_only() -> None:
    compiled = Compiled.from_config(parse_config(lifecycle_doc(False), "test"))
    tried = proposed_silences(['entity="s4"'], T0, T0 + 700 * S)
    out = replay(_history(), {"baseline": compiled, "proposed": compiled}, lifecycle=INPUTS, only={"proposed": tried})
    base, prop = _records(out["baseline"]), _records(out["proposed"])
    s4 = {k: v for k, v in prop.items() if k[0] == "s4"}
    assert s4 == {("s4", "firing", "suppressed", "silenced", ()): 1}  # held all along: no firing, no resolve
    assert {k: v for k, v in base.items() if k[0] == "s4"} == {
        ("s4", "firing", "notify", "new", ("ops",)): 1,
        ("s4", "resolved", "notify", "cleared", ("ops",)): 1,
    }
    assert {k: v for k, v in prop.items() if k[0] != "s4"} == {k: v for k, v in base.items() if k[0] != "s4"}
    assert out["proposed"].suppressed[("cpu", "silenced")] == 10 + 21  # s1's 10 as before, s4's 21


def test_a_proposed_silence_that_is_not_one_names_itself() -> None:
    with pytest.raises(SilenceError, match=r"--silence 'entity=~\".\*\"': at least one matcher"):
        proposed_silences(['entity="ok"', 'entity=~".*"'], T0, T0 + 1)
