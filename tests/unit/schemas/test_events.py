"""Event validation: what `publish` and the evaluator accept, and the reason for what they refuse."""

from __future__ import annotations

from typing import Any

import pytest

from alertstream.schemas.errors import ValidationError
from alertstream.schemas.events import MAX_FUTURE_MS, drift_event, metric_event

NOW = 1_800_000_000_000
GOOD = {"tenant": "acme", "metric": "cpu_percent", "value": 91.0, "source": "api-1"}


def _refused(obj: Any, kind: str = "metric") -> tuple[str, str]:
    with pytest.raises(ValidationError) as err:
        (metric_event if kind == "metric" else drift_event)(obj, NOW)
    return err.value.reason, err.value.path


def test_defaults_event_id_and_time() -> None:
    event = metric_event(GOOD, NOW)
    assert event.occurred_at == NOW
    assert len(event.event_id) == 36
    assert event.key() == b"acme|api-1"
    assert event.labels == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23T10:00:00Z", 1_795_428_000_000),
        ("2026-11-23T11:00:00+01:00", 1_795_428_000_000),
        (1_795_428_000_000, 1_795_428_000_000),
    ],
)
def test_timestamps(value: Any, expected: int) -> None:
    assert metric_event({**GOOD, "occurred_at": value}, NOW).occurred_at == expected


@pytest.mark.parametrize(
    ("patch", "reason", "path"),
    [
        ({"tenant": None}, "missing_field", "tenant"),
        ({"tenant": "  "}, "empty_field", "tenant"),
        ({"tenant": 5}, "wrong_type", "tenant"),
        ({"value": float("nan")}, "non_finite", "value"),
        ({"value": float("inf")}, "non_finite", "value"),
        ({"value": "91"}, "wrong_type", "value"),
        ({"value": True}, "wrong_type", "value"),
        ({"occurred_at": NOW + MAX_FUTURE_MS + 60_000}, "future_timestamp", "occurred_at"),
        ({"occurred_at": "yesterday"}, "bad_timestamp", "occurred_at"),
        ({"occurred_at": "2026-11-23T10:00:00"}, "bad_timestamp", "occurred_at"),
        ({"labels": {"env": 1}}, "wrong_type", "labels.env"),
        ({"colour": "red"}, "unknown_field", "colour"),
        ({"source": "x" * 600}, "too_large", "source"),
    ],
)
def test_metric_refusals(patch: dict[str, Any], reason: str, path: str) -> None:
    obj = {k: v for k, v in {**GOOD, **patch}.items() if v is not None}
    assert _refused(obj) == (reason, path)


def test_not_an_object() -> None:
    assert _refused([1, 2]) == ("not_an_object", "")


def test_drift_event_and_key() -> None:
    obj = {
        "tenant": "acme",
        "drift_type": "DENIAL_RATE",
        "payer": "aetna",
        "cpt_group": "E&M",
        "baseline_value": 0.08,
        "current_value": 0.19,
        "sample_count": 240,
    }
    event = drift_event(obj, NOW)
    assert event.key() == b"acme|aetna|E&M"
    assert event.to_record()["sample_count"] == 240
    assert _refused({**obj, "sample_count": -1}, "drift") == ("wrong_type", "sample_count")
    assert _refused({**obj, "baseline_value": float("nan")}, "drift") == ("non_finite", "baseline_value")
