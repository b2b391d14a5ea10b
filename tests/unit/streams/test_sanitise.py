"""The sanitiser and PII redactor, including the seed 000/001 cases."""

from __future__ import annotations

import json
import logging

import pytest

from alertstream.streams.sanitise import (
    MAX_DETAILS_BYTES,
    MAX_STRING,
    MAX_SUMMARY,
    TRUNCATED,
    details_json,
    install_log_redaction,
    redact_text,
    sanitise_dict,
    summary_text,
)


def test_ssn_redaction() -> None:
    text = redact_text("Patient SSN is 123-45-6789")
    assert "123-45-6789" not in text
    assert "XXX-XX-XXXX" in text


def test_email_redaction() -> None:
    text = redact_text("Contact patient@example.com for details")
    assert "patient@example.com" not in text
    assert "[EMAIL_REDACTED]" in text


def test_phone_and_card_redaction() -> None:
    text = redact_text("call (555) 123-4567 or +1 555-123-4567; card 4111 1111 1111 1111")
    assert "123-4567" not in text
    assert "4111" not in text
    assert text.count("[PHONE_REDACTED]") == 2
    assert "[CARD_REDACTED]" in text


def test_numbers_that_are_not_cards_or_phones_survive() -> None:
    assert (
        redact_text("claims 1234567890123 (not luhn), rate 0.15, id 12345")
        == "claims 1234567890123 (not luhn), rate 0.15, id 12345"
    )


def test_dict_sanitisation_by_key_name() -> None:
    data = {"patient_name": "John Doe", "payer": "Aetna", "ssn": "123-45-6789", "dob": "1970-01-01", "rule_name": "r"}
    out = sanitise_dict(data)
    assert out["patient_name"] == "[REDACTED]"
    assert out["payer"] == "Aetna"
    assert out["ssn"] == "[REDACTED]"
    assert out["dob"] == "[REDACTED]"
    assert out["rule_name"] == "r"


def test_nested_dict_sanitisation() -> None:
    data = {"alert": {"patient_name": "Jane Doe", "claim_id": "12345", "notes": ["mail jane@x.org"]}}
    out = sanitise_dict(data)
    assert out["alert"]["patient_name"] == "[REDACTED]"
    assert out["alert"]["claim_id"] == "12345"
    assert out["alert"]["notes"] == ["mail [EMAIL_REDACTED]"]


def test_large_dict_truncated_with_marker() -> None:
    out = json.loads(details_json({f"key_{i}": "x" * 100 for i in range(100)}))
    assert out["_truncated"] is True
    assert len(out) == 21  # 20 keys kept + the marker


def test_long_strings_truncated_with_marker() -> None:
    out = json.loads(details_json({"long_value": "x" * 1000}))
    assert out["long_value"] == "x" * MAX_STRING + TRUNCATED


def test_details_never_exceed_8_kib() -> None:
    big = {f"k{i}": {f"n{j}": "y" * 600 for j in range(20)} for i in range(20)}
    text = details_json(big)
    assert len(text.encode()) <= MAX_DETAILS_BYTES
    assert json.loads(text)["_truncated"] is True


def test_small_details_pass_through() -> None:
    assert json.loads(details_json({"price": "150.00", "qty": 100, "ok": True, "none": None})) == {
        "price": "150.00",
        "qty": 100,
        "ok": True,
        "none": None,
    }


def test_details_orjson_refuses_still_encode_exactly() -> None:
    """Integers beyond 64 bits and lone surrogates (orjson raises on both) take the standard
    encoder; multi-byte text counts in bytes against the limit either way."""
    huge, lone = 2**70, "x\udc80y"
    assert json.loads(details_json({"n": huge, "s": lone, "t": "é"})) == {"n": huge, "s": lone, "t": "é"}
    wide = {f"k{i}": "é" * 500 for i in range(20)}  # 20 x 1000 bytes of UTF-8: must be cut to fit
    text = details_json(wide)
    assert len(text.encode()) <= MAX_DETAILS_BYTES
    assert json.loads(text)["_truncated"] is True


def test_summary_is_one_line_redacted_and_bounded() -> None:
    text = summary_text("alert for bob@example.com\n" + "z" * 400)
    assert len(text) == MAX_SUMMARY
    assert "\n" not in text
    assert "bob@example.com" not in text


def test_log_records_are_redacted_message_arguments_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    previous = logging.getLogRecordFactory()
    install_log_redaction()
    try:
        log = logging.getLogger("alertstream.test.redaction")
        log.warning("latest: labels.%s: expected a string", "jane.doe@example.com")
        try:
            raise ValueError("patient ssn 123-45-6789, call 555-867-5309")
        except ValueError:
            log.exception("evaluation failed")
    finally:
        logging.setLogRecordFactory(previous)
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "[EMAIL_REDACTED]" in text
    assert "XXX-XX-XXXX" in text
    for canary in ("jane.doe@example.com", "123-45-6789", "555-867-5309"):
        assert canary not in text


def test_a_redacted_record_still_formats_under_fausts_formatter() -> None:
    """Faust's (mode's) formatter re-processes ``record.args``: a redacted record must stay valid."""
    import io

    from mode.utils.logging import ExtensionFormatter

    previous = logging.getLogRecordFactory()
    install_log_redaction()
    try:
        record = logging.getLogger("x").makeRecord("x", logging.WARNING, "f", 1, "to %s", ("a@example.com",), None)
    finally:
        logging.setLogRecordFactory(previous)
    assert ExtensionFormatter(stream=io.StringIO(), fmt="%(message)s").format(record) == "to [EMAIL_REDACTED]"


def _all_four_patterns(text: str) -> str:
    """redact_text without its pre-check: the four substitutions, always."""
    from alertstream.streams import sanitise as s

    text = s._SSN.sub("XXX-XX-XXXX", text)
    text = s._EMAIL.sub("[EMAIL_REDACTED]", text)
    text = s._CARD.sub(s._card, text)
    return s._PHONE.sub("[PHONE_REDACTED]", text)


def test_the_pre_check_never_skips_text_a_pattern_would_change() -> None:
    """Text with no "@" and fewer than nine digits is returned unscanned: check against the full
    chain over every short mix of digits, separators, "@" and letters, and near-miss PII."""
    import itertools
    import random

    rng = random.Random(7)
    alphabet = "0123456789 -.()+@aZ٣"  # incl. a non-ASCII digit: the patterns' \d matches it too
    samples = ["123-45-678", "123-45-6789", "555 123 456", "(555) 123-4567", "4111111111111", "x@y.io", "٣٣٣-٣٣-٣٣٣٣"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(20_000)]
    samples += ["".join(p) for p in itertools.product("19 -", repeat=6)]
    for text in samples:
        assert redact_text(text) == _all_four_patterns(text), text
