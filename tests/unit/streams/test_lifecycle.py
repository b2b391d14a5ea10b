"""The lifecycle over a real evaluator, without Kafka (streams/lifecycle*.py)."""

from __future__ import annotations

import json

from alertstream.schemas.events import MetricEvent
from alertstream.streams.fingerprint import fingerprint
from alertstream.streams.lifecycle import SWEEP_MS
from alertstream.streams.lifecycle_records import nodata_fingerprint
from tests.unit.streams.helpers import T0
from tests.unit.streams.lifecycle_pipe import Pipe, brief, doc

S = 1000
CPU = fingerprint("cpu", "acme", "db-1")


def details(record: dict[str, object]) -> dict[str, object]:
    return json.loads(str(record["details"]))


# -- silences --------------------------------------------------------------------------------------


def test_a_silenced_first_notification_is_recorded_once_and_released_when_the_silence_ends() -> None:
    p = Pipe(doc())
    s = p.silence('alertname="cpu", tenant="acme"', T0, T0 + 60 * S)
    first = p.event(95)
    assert brief(first) == [("firing", "suppressed", "silenced", [])]
    assert details(first[0])["suppression"] == {"reason": "silenced", "silence_id": s.id}
    assert p.event(96, at=T0 + 700 * S - 650 * S) == []  # the same hold: nothing new recorded
    assert p.tick(T0 + 59 * S) == []  # still silenced
    released = p.tick(T0 + 60 * S)  # the silence ended: notified at once, without an event
    assert brief(released) == [("firing", "notify", "released", ["hook"])]
    assert details(released[0])["released_from"] == {"reason": "silenced", "ref": s.id}
    assert p.tick(T0 + 61 * S) == []  # once
    assert brief(p.event(10, at=T0 + 62 * S)) == [("resolved", "notify", "cleared", ["hook"])]


def test_an_episode_whose_firing_was_silenced_resolves_silently() -> None:
    p = Pipe(doc())
    p.silence('alertname="cpu"', T0, T0 + 600 * S)
    assert brief(p.event(95)) == [("firing", "suppressed", "silenced", [])]
    assert p.event(10, at=T0 + 5 * S) == []  # no resolve for a firing nobody heard of
    assert p.tick(T0 + 601 * S) == []  # and nothing to release after the silence


def test_alerts_the_silence_does_not_match_are_unaffected() -> None:
    p = Pipe(doc())
    p.silence('alertname="cpu", entity="db-2"', T0, T0 + 600 * S)
    assert brief(p.event(95, source="db-1")) == [("firing", "notify", "new", ["hook"])]
    assert brief(p.event(95, source="db-2")) == [("firing", "suppressed", "silenced", [])]


def test_a_silence_created_while_firing_holds_repeats_but_lets_the_resolve_through() -> None:
    p = Pipe(
        doc(
            rules=[
                {
                    "id": "cpu",
                    "metric": "cpu_percent",
                    "warning": 70,
                    "clear": 60,
                    "dedup_window_seconds": 60,
                    "repeat_interval_seconds": 60,
                }
            ]
        )
    )
    assert brief(p.event(95)) == [("firing", "notify", "new", ["hook"])]
    p.silence('alertname="cpu"', T0 + S, T0 + 3600 * S)
    p.at(T0 + 120 * S)
    assert brief(p.event(95)) == [("firing", "suppressed", "silenced", [])]  # the repeat
    assert brief(p.event(10, at=T0 + 130 * S)) == [("resolved", "notify", "cleared", ["hook"])]


def test_a_deduplicated_event_of_a_firing_episode_rewrites_its_row_but_not_its_lifecycle_entry() -> None:
    """The entry is the same as before (no record, no hold, no walk started): writing it again
    was one changelog record per firing episode per batch for nothing."""
    p = Pipe(doc())
    p.event(95)
    assert p.last.entries.keys() == {CPU}  # the first notification: the entry is new
    assert p.event(96, at=T0 + 10 * S) == []  # folded into the episode (dedup)
    assert p.last.writes.keys() == {CPU}
    assert p.last.entries == {}
    assert p.last.firing == {}
    assert p.entries.keys() == {CPU}  # still there


def test_a_fire_and_its_resolve_in_one_batch_both_go_out_unless_the_fire_was_held() -> None:
    p = Pipe(doc())
    assert brief(p.batch(95, 10)) == [
        ("firing", "notify", "new", ["hook"]),
        ("resolved", "notify", "cleared", ["hook"]),
    ]
    p.silence('alertname="cpu"', T0, T0 + 600 * S)
    p.at(T0 + 10 * S)
    assert brief(p.batch(95, 10)) == [("firing", "suppressed", "silenced", [])]


# -- inhibition ------------------------------------------------------------------------------------

INHIBIT = {
    "inhibit_rules": [
        {
            "name": "db-pool-hides-latency",
            "source_matchers": ['alertname="db-pool-saturated"', 'severity="critical"'],
            "target_matchers": ['alertname="api-latency-high"', 'severity="warning"'],
            "equal": ["tenant"],
        }
    ]
}


def test_inhibition_mutes_the_target_not_the_source_and_releases_it_when_the_source_resolves() -> None:
    p = Pipe(doc(**INHIBIT))
    assert brief(p.event(0.95, metric="db_pool", source="db")) == [("firing", "notify", "new", ["hook"])]
    target = p.event(2.0, metric="latency", source="api")
    assert brief(target) == [("firing", "suppressed", "inhibited", [])]
    assert details(target[0])["suppression"] == {"reason": "inhibited", "inhibit_rule": "db-pool-hides-latency"}
    assert brief(p.event(2.0, metric="latency", source="api", tenant="zeta")) == [("firing", "notify", "new", ["hook"])]
    assert p.tick(T0 + 5 * S) == []  # the source still fires
    assert brief(p.event(0.1, metric="db_pool", source="db", at=T0 + 6 * S)) == [
        ("resolved", "notify", "cleared", ["hook"])
    ]
    assert brief(p.tick(T0 + 7 * S)) == [("firing", "notify", "released", ["hook"])]


def test_a_source_inhibits_a_target_that_fires_in_the_same_batch_whichever_comes_first() -> None:
    for first, second in (("latency", "db_pool"), ("db_pool", "latency")):
        p = Pipe(doc(**INHIBIT))
        value = {"latency": 2.0, "db_pool": 0.95}
        source = {"latency": "api", "db_pool": "db"}
        events = [
            (0, MetricEvent(f"e-{m}", "acme", m, value[m], source[m], T0 + i, {}))
            for i, m in enumerate((first, second))
        ]
        result = p.evaluator.process(events, p.state.get)
        sent = p._apply(p.lifecycle.after_batch(events, result, p.state.get, p.entries.get))
        assert sorted((r["rule_id"], r.get("event", "notify")) for r in sent) == [
            ("api-latency-high", "suppressed"),
            ("db-pool-saturated", "notify"),
        ], first
        assert sorted(p.lifecycle.view.firing) == sorted(r["fingerprint"] for r in sent)  # both fire


# -- time intervals --------------------------------------------------------------------------------


def _muted_pipe(covering: bool) -> Pipe:
    # T0 = 2023-11-14T22:13:20Z, a Tuesday
    hours = {"start_time": "22:00", "end_time": "23:00"} if covering else {"start_time": "08:00", "end_time": "09:00"}
    return Pipe(
        doc(
            time_intervals=[{"name": "window", "time_intervals": [{"times": [hours], "weekdays": ["tuesday"]}]}],
            routes={"receiver": "hook", "routes": [{"receiver": "hook", "mute_time_intervals": ["window"]}]},
        )
    )


def test_a_mute_interval_covering_now_suppresses_and_one_that_does_not_does_not() -> None:
    muted = _muted_pipe(covering=True)
    assert brief(muted.event(95)) == [("firing", "suppressed", "muted", [])]
    assert details(muted.sent[0])["suppression"] == {"reason": "muted", "time_interval": "window"}
    assert brief(muted.tick(T0 + 3600 * S)) == [("firing", "notify", "released", ["hook"])]  # 23:13: over
    assert brief(_muted_pipe(covering=False).event(95)) == [("firing", "notify", "new", ["hook"])]


# -- acknowledgement and escalation ----------------------------------------------------------------

ESCALATING = doc(
    rules=[
        {
            "id": "cpu",
            "metric": "cpu_percent",
            "warning": 70,
            "critical": 90,
            "clear": 60,
            "dedup_window_seconds": 60,
            "repeat_interval_seconds": 60,
        }
    ],
    schedules=[
        {
            "name": "primary",
            "layers": [{"name": "l", "rotation": "daily", "start": "2023-01-01T00:00", "participants": ["alice"]}],
        }
    ],
    escalation_policies=[
        {
            "name": "db",
            "steps": [{"wait_seconds": 300}, {"notify_on_call": "primary"}, {"wait_seconds": 300}, {"notify": "lead"}],
        }
    ],
    routes={
        "receiver": "hook",
        "routes": [{"receiver": "pager", "escalation_policy": "db", "continue": True}, {"receiver": "chat"}],
    },
)


def test_an_unacknowledged_alert_walks_its_policy_one_page_per_step() -> None:
    p = Pipe(ESCALATING)
    assert brief(p.event(95)) == [("firing", "notify", "new", ["pager", "chat"])]
    assert p.tick(T0 + 299 * S) == []
    page = p.tick(T0 + 300 * S)
    assert brief(page) == [("firing", "notify", "escalation", ["alice"])]
    assert details(page[0])["escalation"] == {
        "policy": "db",
        "step": 1,
        "round": 0,
        "receiver": "alice",
        "schedule": "primary",
    }
    assert p.tick(T0 + 301 * S) == []  # notify once per step
    assert brief(p.tick(T0 + 600 * S)) == [("firing", "notify", "escalation", ["lead"])]
    assert p.tick(T0 + 9000 * S) == []  # the end of the policy


def test_acknowledge_stops_escalation_and_renotification_and_tells_pagerduty_and_webhooks() -> None:
    p = Pipe(ESCALATING)
    p.event(95)
    ack = p.act("acknowledge", CPU, at=T0 + 10 * S)
    assert brief(ack) == [("firing", "acknowledged", "acknowledged", ["pager"])]  # not slack
    assert details(ack[0])["action"]["by"] == "api-key:k1"
    assert ack[0]["fingerprint"] == CPU
    assert p.tick(T0 + 900 * S) == []  # no escalation
    assert p.event(96, at=T0 + 200 * S) == []  # no re-notification past the repeat interval
    assert p.act("acknowledge", CPU, at=T0 + 10 * S) == []  # the same action again: a no-op


def test_unacknowledge_starts_the_walk_again() -> None:
    p = Pipe(ESCALATING)
    p.event(95)
    p.act("acknowledge", CPU, at=T0 + 10 * S)
    p.at(T0 + 400 * S)
    unack = p.act("unacknowledge", CPU, at=T0 + 400 * S)
    assert brief(unack) == [("firing", "unacknowledged", "unacknowledged", [])]  # no webhook route here
    assert p.tick(T0 + 699 * S) == []
    assert brief(p.tick(T0 + 700 * S)) == [("firing", "notify", "escalation", ["alice"])]


def test_the_resolve_of_an_escalated_alert_also_tells_whoever_the_escalation_paged() -> None:
    p = Pipe(ESCALATING)
    p.event(95)
    p.tick(T0 + 300 * S)  # alice paged
    p.at(T0 + 310 * S)
    assert brief(p.event(50, at=T0 + 310 * S)) == [("resolved", "notify", "cleared", ["pager", "chat", "alice"])]
    p.at(T0 + 320 * S)
    assert brief(p.event(95, at=T0 + 320 * S)) == [("firing", "notify", "new", ["pager", "chat"])]
    assert brief(p.event(50, at=T0 + 330 * S)) == [("resolved", "notify", "cleared", ["pager", "chat"])]  # no page


def test_a_user_resolve_ends_the_episode_and_the_next_breach_opens_a_new_one() -> None:
    p = Pipe(ESCALATING)
    p.event(95)
    p.tick(T0 + 300 * S)
    resolved = p.act("resolve", CPU, at=T0 + 310 * S)
    assert brief(resolved) == [("resolved", "notify", "resolved_by_user", ["pager", "chat", "alice"])]
    assert p.tick(T0 + 900 * S) == []  # no escalation of a closed episode
    p.at(T0 + 320 * S)
    assert brief(p.event(95, at=T0 + 320 * S)) == [("firing", "notify", "new", ["pager", "chat"])]
    assert p.act("acknowledge", CPU, at=T0 + 310 * S) == []  # older than what was applied


# -- missing data and heartbeats -------------------------------------------------------------------


def _missing(policy: str) -> Pipe:
    return Pipe(
        doc(
            rules=[
                {
                    "id": "cpu",
                    "metric": "cpu_percent",
                    "warning": 70,
                    "clear": 60,
                    "missing_data": {"policy": policy, "after_seconds": 120},
                }
            ]
        )
    )


def test_resolve_after_resolves_a_silent_firing_alert_once() -> None:
    p = _missing("resolve_after")
    p.event(95)
    assert p.tick(T0 + 119 * S) == []
    resolved = p.tick(T0 + 120 * S)
    assert brief(resolved) == [("resolved", "notify", "missing_data", ["hook"])]
    assert p.tick(T0 + 500 * S) == []
    assert brief(p.event(95, at=T0 + 501 * S)) == [("firing", "notify", "new", ["hook"])]


def test_nodata_raises_its_own_alert_and_resolves_it_when_the_events_come_back() -> None:
    p = _missing("nodata")
    p.event(95)
    raised = p.tick(T0 + 120 * S)
    assert brief(raised) == [("firing", "notify", "nodata", ["hook"])]
    assert raised[0]["fingerprint"] == nodata_fingerprint(CPU) != CPU
    assert raised[0]["labels"]["alertstate"] == "nodata"
    assert p.tick(T0 + 200 * S) == []
    back = p.event(96, at=T0 + 201 * S)
    assert [(r["fingerprint"], r["status"]) for r in back] == [(nodata_fingerprint(CPU), "resolved")]


def test_keep_firing_keeps_the_episode_past_its_expiry() -> None:
    p = _missing("keep_firing")
    p.event(95)
    ttl = p.lifecycle.config.rules["cpu"].group_window_seconds * 1000
    p.tick(int(T0 + ttl - 30 * S))
    from alertstream.streams.dedup import EpisodeState, expired

    assert not expired(EpisodeState.from_row(p.state[CPU][1]), int(T0 + ttl + 60 * S))


def test_a_heartbeat_fires_for_a_source_that_stops_and_resolves_when_it_returns() -> None:
    p = Pipe(doc(heartbeats=[{"id": "collector-heartbeat", "metric": "cpu_percent", "after_seconds": 300}]))
    hb = fingerprint("collector-heartbeat", "acme", "db-1")
    p.event(10)  # a healthy report: no alert, the source is known now
    assert p.tick(T0 + 299 * S) == []
    fired = p.tick(T0 + 300 * S)
    assert brief(fired) == [("firing", "notify", "heartbeat_missing", ["hook"])]
    assert fired[0]["fingerprint"] == hb
    assert p.tick(T0 + 900 * S) == []  # once
    back = p.event(10, at=T0 + 901 * S)
    assert brief(back) == [("resolved", "notify", "reported", ["hook"])]
    assert p.tick(T0 + 1000 * S) == []
    assert p.event(10, source="db-2") == []  # reported at 1000 s; db-1 last at 900 s
    assert [r["fingerprint"] for r in p.tick(T0 + 1200 * S)] == [hb]


def test_a_route_chosen_by_entity_brings_its_escalation_policy() -> None:
    """Route matchers see the alert's entity (schemas/matchers.alert_labels): the lifecycle asks the
    router with it too, so a policy on a route that selects by entity walks (it was asked without
    the entity: no policy, no page)."""
    by_entity = {
        **ESCALATING,
        "routes": {
            "receiver": "hook",
            "routes": [{"matchers": ['entity="db-1"'], "receiver": "pager", "escalation_policy": "db"}],
        },
    }
    p = Pipe(by_entity)
    assert brief(p.event(95, source="db-1")) == [("firing", "notify", "new", ["pager"])]
    assert brief(p.event(95, source="db-2")) == [("firing", "notify", "new", ["hook"])]
    assert brief(p.tick(T0 + 300 * S)) == [("firing", "notify", "escalation", ["alice"])]  # db-1 only


# -- what a step reads -------------------------------------------------------------------------------

SHORT_POLICY = doc(
    escalation_policies=[{"name": "db", "steps": [{"wait_seconds": 10}, {"notify": "lead"}]}],
    routes={"receiver": "pager", "escalation_policy": "db"},
)


def test_a_step_reads_only_episodes_time_can_change_and_every_episode_each_sweep() -> None:
    p = Pipe(doc())
    for i in range(50):
        p.event(95, source=f"db-{i}")
    p.tick(T0 + 1 * S)
    assert p.looked_at == 50  # the first step sweeps
    p.tick(T0 + 2 * S)
    assert p.looked_at == 0  # firing, notified, nothing that can come due: not read
    p.event(96, source="db-7", at=T0 + 3 * S)
    p.tick(T0 + 3 * S)
    assert p.looked_at == 1  # written since the last step
    p.tick(T0 + 4 * S)
    assert p.looked_at == 0
    p.tick(T0 + 1 * S + SWEEP_MS)
    assert p.looked_at == 50


def test_between_sweeps_a_due_escalation_step_pages() -> None:
    p = Pipe(SHORT_POLICY)
    assert brief(p.event(95)) == [("firing", "notify", "new", ["pager"])]
    assert p.tick(T0 + 1 * S) == []  # the sweep
    assert p.tick(T0 + 2 * S) == []
    assert p.looked_at == 1  # a walk with a step to come stays watched
    assert brief(p.tick(T0 + 11 * S)) == [("firing", "notify", "escalation", ["lead"])]  # next sweep: 31 s


def test_an_entry_whose_state_expired_ends_at_the_next_sweep_or_step_when_put_on_the_watch() -> None:
    p = Pipe(doc())
    p.event(95, source="db-1")
    p.event(95, source="db-2")
    p.tick(T0 + 1 * S)
    quiet, told = fingerprint("cpu", "acme", "db-1"), fingerprint("cpu", "acme", "db-2")
    del p.state[quiet], p.state[told]  # the worker's expiry sweep deleted both rows
    p.lifecycle.watch.add(told)  # ... and put what it expired on the watch (streams/worker.py)
    p.tick(T0 + 2 * S)
    assert told not in p.entries
    assert quiet in p.entries
    p.tick(T0 + 1 * S + SWEEP_MS)
    assert quiet not in p.entries
