from __future__ import annotations

from alertstream.streams.fingerprint import drift_entity, fingerprint, metric_entity


def test_stable_value_pinned() -> None:
    # pinned: a change here would split every open alert in production into a new one
    assert fingerprint("cpu-high", "acme", "host1") == "61e279b3e9c6848757287ef020b28d71"


def test_parts_are_not_ambiguous() -> None:
    assert fingerprint("a", "bc", "d") != fingerprint("ab", "c", "d")
    assert fingerprint("r", "t", "e") != fingerprint("r", "t", "e2")
    assert fingerprint("r", "t", "e") != fingerprint("r", "t2", "e")


def test_entity_ignores_label_order_and_unrelated_labels() -> None:
    a = metric_entity("h1", {"disk": "sda", "env": "prod", "x": "1"}, ["env", "disk"])
    b = metric_entity("h1", {"env": "prod", "disk": "sda", "x": "2"}, ["disk", "env"])
    assert a == b == "h1{disk=sda,env=prod}"
    assert metric_entity("h1", {"x": "1"}) == "h1"


def test_drift_entity() -> None:
    assert drift_entity("Aetna", "E&M") == "Aetna/E&M"
    assert drift_entity("Aetna", None) == "Aetna"
