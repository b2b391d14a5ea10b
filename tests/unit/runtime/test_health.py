"""Liveness/readiness decisions (pure, with a fake clock); the HTTP side is tested on real processes."""

from __future__ import annotations

import json

from alertstream.runtime.health import Health


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_silent_loop_is_stalled_only_while_it_has_work() -> None:
    clock = Clock()
    health = Health(stall_after_s=10, clock=clock)
    clock.now += 100
    assert health.liveness()[0], "no work: silence is idleness, not a wedge"
    health.partitions_changed(assigned=[("alerts", 0)])
    clock.now += 9
    assert health.liveness()[0]
    clock.now += 2
    ok, body = health.liveness()
    assert not ok
    assert body["status"] == "stalled"
    assert body["failing"] == ["loop"]
    assert body["checks"]["loop"]["detail"] == "no progress for 11.0 s (limit 10 s) while it has work"
    health.beat()
    assert health.liveness() == (True, json.loads(json.dumps(health.liveness()[1])))
    assert health.liveness()[1]["checks"]["loop"]["ok"] is True


def test_readiness_names_every_failing_check() -> None:
    health = Health()
    assert health.readiness()[1]["failing"] == ["partitions"], "a consumer is not ready before it has partitions"
    health.set_check("database", False, "not connected yet")
    ok, body = health.readiness()
    assert not ok
    assert body["failing"] == ["database", "partitions"]
    assert body["checks"]["partitions"] == {"ok": False, "detail": "no partitions assigned"}
    health.partitions_changed(assigned=[("alerts", 0), ("alerts", 1)])
    health.set_check("database", True)
    assert health.readiness() == (
        True,
        {
            "status": "ready",
            "failing": [],
            "checks": {
                "database": {"ok": True, "detail": ""},
                "partitions": {"ok": True, "detail": "2 partitions assigned"},
            },
        },
    )
    health.partitions_changed(revoked=[("alerts", 0), ("alerts", 1)])
    assert health.readiness()[1]["failing"] == ["partitions"]


def test_broker_check_follows_librdkafka_statistics() -> None:
    health = Health()
    callbacks = health.kafka_callbacks()
    assert health.readiness()[1]["failing"] == ["broker", "partitions"]
    stats = {"brokers": {"b1": {"nodeid": 1, "state": "UP"}, "boot": {"nodeid": -1, "state": "UP"}}}
    callbacks["stats_cb"](json.dumps(stats))
    assert health.readiness()[1]["checks"]["broker"] == {"ok": True, "detail": "1 broker connections up"}
    callbacks["stats_cb"](json.dumps({"brokers": {"b1": {"nodeid": 1, "state": "DOWN"}}}))
    assert health.readiness()[1]["checks"]["broker"] == {"ok": False, "detail": "no broker connection up"}
