"""Ingest (every invalid class -> a reason) and the Alert records the evaluator builds."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from alertstream.schemas import avro_binary
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config, parse_config
from alertstream.schemas.errors import CODEC_REASONS, ConfigError
from alertstream.schemas.events import MetricEvent
from alertstream.streams.evaluator import Compiled, Evaluator
from alertstream.streams.fingerprint import fingerprint
from alertstream.streams.ingest import MAX_KEY_BYTES, SET_ASIDE_PREFIX_BYTES, Ingest, Invalid
from tests.unit.streams.helpers import T0, drift, metric

CODEC = Codec()
NOW = T0 + 1000


def _record(**kw: object) -> dict[str, object]:
    return {**metric(1.0).to_record(), **kw}


def _encode_unchecked(record: dict[str, object]) -> bytes:
    return CODEC.encode(c.METRIC_EVENT, record)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "truncated"),
        (b"\xc3\x01abc", "truncated"),
        (b"garbage!", "bad_magic"),
        (b"\xc3\x01" + b"\x00" * 8 + b"x", "unknown_schema"),
        (None, "truncated"),
        (_encode_unchecked(_record(value=math.nan)), "non_finite"),
        (_encode_unchecked(_record(tenant="")), "empty_field"),
        (_encode_unchecked(_record(occurred_at=NOW + 3_600_000)), "future_timestamp"),
    ],
)
def test_every_bad_message_becomes_invalid_with_reason_and_headers(value: bytes | None, reason: str) -> None:
    out = Ingest(CODEC, drift=False).parse(b"k", value, "p.events.metric", 3, 42, NOW)
    assert isinstance(out, Invalid)
    assert out.reason == reason
    headers = dict(out.headers())
    assert headers["error.reason"] == reason.encode()
    assert headers["source.topic"] == b"p.events.metric"
    assert headers["source.partition"] == b"3"
    assert headers["source.offset"] == b"42"
    assert "error.detail" in headers
    assert out.key == b"k"
    assert out.value == value


def test_drift_bytes_on_the_metric_topic_are_a_schema_mismatch() -> None:
    data = CODEC.encode(c.DRIFT_EVENT, drift(0.1, 0.2).to_record())
    out = Ingest(CODEC, drift=False).parse(None, data, "t", 0, 0, NOW)
    assert isinstance(out, Invalid)
    assert out.reason == "schema_mismatch"


def test_good_bytes_become_events() -> None:
    event = metric(91.0)
    out = Ingest(CODEC, drift=False).parse(event.key(), CODEC.encode(c.METRIC_EVENT, event.to_record()), "t", 0, 0, NOW)
    assert isinstance(out, MetricEvent)
    assert out == event


def test_alert_records_are_valid_avro_with_version_routes_and_sanitised_fields() -> None:
    config = load_config(None)
    ev = Evaluator(Compiled.from_config(config), clock=lambda: NOW / 1000)
    bad = MetricEvent("e1", "acme", "cpu_percent", 99.0, "jane@example.com", T0, {"patient_name": "Jane"})
    result = ev.process(
        [(0, bad), (0, MetricEvent("e2", "acme", "cpu_percent", 99.5, "jane@example.com", T0 + 1))], dict().get
    )
    assert len(result.alerts) == 1
    record = result.alerts[0].record
    decoded = CODEC.decode(CODEC.encode(c.ALERT, record), c.ALERT)
    assert decoded["rule_version"] == config.version
    assert decoded["status"] == "firing"
    assert decoded["severity"] == "critical"
    assert decoded["threshold"] == 90
    assert decoded["value"] == 99.5
    assert decoded["occurrence_count"] == 2
    assert decoded["event_ids"] == ["e1", "e2"]
    assert {r["channel"] for r in decoded["routes"]} == {"webhook", "pagerduty", "email", "slack"}
    assert "jane@example.com" not in decoded["summary"]
    assert "jane@example.com" not in decoded["details"]
    assert decoded["emitted_at"] == NOW
    assert len(decoded["summary"]) <= 255
    # the worker's records are ones the compiled writer writes (a fallback to fastavro is ~4x the CPU)
    plan = CODEC.current[c.ALERT].plan
    assert plan is not None
    assert avro_binary.encode(plan, b"", record) == CODEC.encode(c.ALERT, record)[10:]


def test_rate_limited_critical_is_marked_and_warning_suppressed() -> None:
    data = {
        "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70, "critical": 90}],
        "rate_limits": {"window_seconds": 60, "per_tenant": 1},
    }
    ev = Evaluator(Compiled.from_config(parse_config(data, "t")), clock=lambda: NOW / 1000)
    start = T0 - T0 % 60_000
    events = [(0, metric(80, start + i, source=f"h{i}")) for i in range(3)]
    events += [(0, metric(95, start + 10 + i, source=f"c{i}")) for i in range(2)]
    result = ev.process(events, dict().get)
    assert [(a.record["severity"], a.record["rate_limited"]) for a in result.alerts] == [
        ("warning", False),
        ("critical", True),
        ("critical", True),
    ]
    assert result.suppressed == {"rate_limit": 2}


def test_a_fire_the_rate_limit_refused_is_counted_by_reason_in_the_next_alert() -> None:
    data = {
        "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70, "critical": 90}],
        "rate_limits": {"window_seconds": 60, "per_tenant": 1},
    }
    ev = Evaluator(Compiled.from_config(parse_config(data, "t")), clock=lambda: NOW / 1000)
    start = T0 - T0 % 60_000
    store: dict[str, Any] = {}

    def run(events: list[tuple[int, Any]]) -> list[dict[str, Any]]:
        result = ev.process(events, store.get)
        for fp, (p, row) in result.writes.items():
            store[fp] = [p, row]
        return [a.record for a in result.alerts]

    assert len(run([(0, metric(80, start, source="other"))])) == 1  # uses the window's one alert
    assert run([(0, metric(80, start + 1))]) == []  # refused by the limit: suppressed
    later = run([(0, metric(80, start + 60_001))])  # the next window admits it
    assert [a["suppressed_count"] for a in later] == [1]
    assert json.loads(later[0]["details"])["suppressed_by_reason"] == {"rate_limit": 1}


def test_reconfigure_changes_rules_and_version() -> None:
    v1 = parse_config({"version": 1, "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70}]}, "t")
    v2 = parse_config({"version": 2, "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 50}]}, "t")
    ev = Evaluator(Compiled.from_config(v1), clock=lambda: NOW / 1000)
    assert ev.process([(0, metric(60, T0))], dict().get).alerts == []
    ev.reconfigure(Compiled.from_config(v2))
    alerts = ev.process([(0, metric(60, T0 + 1))], dict().get).alerts
    assert [a.record["rule_version"] for a in alerts] == [2]


def test_an_invalid_record_that_fits_goes_out_whole_and_one_that_does_not_is_set_aside() -> None:
    small = Invalid("bad_magic", "x", b"k", b"v" * 100, "p.events.metric", 1, 9)
    assert small.record(64 * 1024) == (b"k", b"v" * 100, small.headers())
    big = Invalid("too_large", "2000000 bytes > limit 65536", b"K" * 5000, b"v" * 2_000_000, "p.events.metric", 1, 9)
    key, value, headers = big.record(64 * 1024)
    assert key == b"K" * MAX_KEY_BYTES
    assert value == b"v" * SET_ASIDE_PREFIX_BYTES
    assert headers == [
        *big.headers(),
        ("error.truncated", b"true"),
        ("error.original_size", b"2000000"),
        ("error.original_key_size", b"5000"),
    ]
    # the limit counts key, value and headers: a value just under the limit alone does not fit
    edge = Invalid("bad_magic", "x", b"k", b"v" * (64 * 1024 - 10), "t", 0, 0)
    assert edge.record(64 * 1024)[1] == b"v" * SET_ASIDE_PREFIX_BYTES


def test_text_postgresql_or_json_cannot_hold_is_bad_text_at_ingest() -> None:
    ingest = Ingest(CODEC, drift=False)
    nul = _encode_unchecked(_record(tenant="ac\x00me"))  # Avro carries NUL; PostgreSQL text cannot
    out = ingest.parse(b"k", nul, "t", 0, 0, NOW)
    assert isinstance(out, Invalid)
    assert (out.reason, out.value) == ("bad_text", nul)
    # a lone surrogate written by a non-Python producer: bytes that are not UTF-8 (ED A0 80 = U+D800)
    placeholder = _encode_unchecked(_record(source="hXYZ1"))
    surrogate = placeholder.replace(b"XYZ", b"\xed\xa0\x80")
    out = ingest.parse(b"k", surrogate, "t", 0, 0, NOW)
    assert isinstance(out, Invalid)
    assert out.reason == "bad_text"
    label = _encode_unchecked(_record(labels={"env": "pr\x00d"}))
    out = ingest.parse(b"k", label, "t", 0, 0, NOW)
    assert isinstance(out, Invalid)
    assert (out.reason, out.detail.split(":")[0]) == ("bad_text", "labels.env")


def test_an_unexpected_decoder_exception_is_decode_failed_not_schema_mismatch() -> None:
    class BrokenCodec(Codec):
        def decode(self, data: bytes, expected: str) -> dict[str, object]:
            raise RuntimeError("a decoder bug")

    out = Ingest(BrokenCodec(), drift=False).parse(b"k", b"\xc3\x01whatever", "t", 0, 5, NOW)
    assert isinstance(out, Invalid)
    assert (out.reason, out.detail) == ("decode_failed", "unexpected RuntimeError")
    assert "decode_failed" not in CODEC_REASONS  # not the input's fault: a reason of its own


#: Canaries that must never leave the evaluator: an e-mail, an SSN, a phone number, a name.
EMAIL, SSN, PHONE, NAME = "jane.doe@example.com", "123-45-6789", "555-867-5309", "Jane Q Public"
CANARIES = (EMAIL, SSN, PHONE, NAME, "MRN-0042", "BED-7")


def _alert_text(record: dict[str, object]) -> str:
    return json.dumps(CODEC.decode(CODEC.encode(c.ALERT, record), c.ALERT))


def test_pii_in_entity_and_labels_never_reaches_the_alert_record() -> None:
    """Sanitising covered summary and details only; entity and labels went out raw to every sink."""
    config = parse_config({"rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70}]}, "t")
    ev = Evaluator(Compiled.from_config(config), clock=lambda: NOW / 1000)
    labels = {"patient_name": NAME, "note": f"ssn {SSN}, call {PHONE}", "env": "prod"}
    event = MetricEvent("e1", "acme", "cpu_percent", 80.0, f"billing/{EMAIL}", T0, labels)
    (alert,) = ev.process([(0, event)], dict().get).alerts
    text = _alert_text(alert.record)
    assert [canary for canary in CANARIES if canary in text] == []
    assert alert.record["entity"] == "billing/[EMAIL_REDACTED]"
    assert alert.record["labels"] == {
        "patient_name": "[REDACTED]",  # a personal key name, whatever its value
        "note": "ssn XXX-XX-XXXX, call [PHONE_REDACTED]",
        "env": "prod",
    }
    # the identity is the unredacted entity: two sources that redact alike stay two alerts
    assert alert.fingerprint == fingerprint("cpu", "acme", f"billing/{EMAIL}")


def test_the_redaction_policy_drops_and_masks_label_keys_also_inside_the_entity() -> None:
    config = parse_config(
        {
            "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70, "group_by": ["mrn", "bed"]}],
            "redaction": {"drop_labels": ["bed"], "mask_labels": ["mrn"]},
        },
        "t",
    )
    ev = Evaluator(Compiled.from_config(config), clock=lambda: NOW / 1000)
    event = MetricEvent(
        "e1", "acme", "cpu_percent", 80.0, "ward-3", T0, {"mrn": "MRN-0042", "bed": "BED-7", "env": "x"}
    )
    (alert,) = ev.process([(0, event)], dict().get).alerts
    assert [canary for canary in CANARIES if canary in _alert_text(alert.record)] == []
    assert alert.record["labels"] == {"mrn": "[REDACTED]", "env": "x"}
    assert alert.record["entity"] == "ward-3{bed=[REDACTED],mrn=[REDACTED]}"
    assert alert.fingerprint == fingerprint("cpu", "acme", "ward-3{bed=BED-7,mrn=MRN-0042}")


@pytest.mark.parametrize(
    ("redaction", "problem"),
    [
        ({"drop_labels": ["a"], "mask_labels": ["a"]}, ("redaction", "label 'a' is both dropped and masked")),
        ({"drop_labels": [""]}, ("redaction.drop_labels[0]", "String should have at least 1 character")),
        ({"mask_labels": ["x", "x"]}, ("redaction.mask_labels", "label 'x' listed twice")),
        ({"drop": ["a"]}, ("redaction.drop", "Extra inputs are not permitted")),
    ],
)
def test_the_redaction_policy_is_validated(redaction: dict[str, object], problem: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"redaction": redaction}, "c.yaml")
    assert [(path, text.removeprefix("Value error, ")) for path, text in err.value.problems] == [problem]
