"""Event validation: what `publish` and the evaluator accept, and the reason for what they refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alertstream.publish import prepare
from alertstream.schemas import topics as t
from alertstream.schemas.codec import Codec
from alertstream.schemas.errors import VALIDATION_REASONS, ValidationError
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


#: Text PostgreSQL cannot store (NUL) or UTF-8/JSON cannot carry (a lone surrogate).
BAD_TEXT = ["ac\x00me", "ac\ud800me", "\udfff"]


@pytest.mark.parametrize("bad", BAD_TEXT)
@pytest.mark.parametrize("name", ["tenant", "source", "metric", "event_id"])
def test_text_postgresql_or_json_cannot_hold_is_bad_text(name: str, bad: str) -> None:
    assert _refused({**GOOD, name: bad}) == ("bad_text", name)


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_bad_text_in_label_keys_and_values_and_drift_fields(bad: str) -> None:
    assert _refused({**GOOD, "labels": {"env": bad}}) == ("bad_text", "labels.env")
    reason, path = _refused({**GOOD, "labels": {bad: "prod"}})
    assert reason == "bad_text"
    assert path.startswith("labels.")
    assert "\x00" not in path  # the path is printable: escapes, not the characters
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in path)
    drift = {"tenant": "acme", "drift_type": "DENIAL_RATE", "payer": "aetna", "baseline_value": 1, "current_value": 2}
    assert _refused({**drift, "payer": bad}, "drift") == ("bad_text", "payer")
    assert _refused({**drift, "cpt_group": bad}, "drift") == ("bad_text", "cpt_group")


def test_bad_text_is_a_validation_reason() -> None:
    assert "bad_text" in VALIDATION_REASONS


def test_publish_refuses_bad_text_by_line_number() -> None:
    """`alertstream publish`: JSON escapes \\u0000 and lone surrogates decode to such strings."""
    lines = [
        json.dumps(GOOD),
        '{"tenant": "ac\\u0000me", "metric": "cpu_percent", "value": 1, "source": "s"}',
        '{"tenant": "acme", "metric": "cpu_percent", "value": 1, "source": "s\\ud800"}',
        '{"tenant": "acme", "metric": "cpu_percent", "value": 1, "source": "s", "labels": {"k": "\\udc00"}}',
    ]
    out = prepare(lines, t.EVENTS_METRIC, Codec(), "p.events.metric", NOW)
    assert len(out.messages) == 1
    assert [(e.line, e.reason) for e in out.errors] == [(2, "bad_text"), (3, "bad_text"), (4, "bad_text")]
