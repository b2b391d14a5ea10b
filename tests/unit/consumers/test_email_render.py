from __future__ import annotations

import email
import email.policy

import pytest

from alertstream.consumers.email_render import RecipientError, header_safe, render_email, validate_recipients
from tests.email_cases import EXPECTED_HEADERS, INJECTIONS
from tests.unit.consumers.helpers import alert


@pytest.mark.parametrize("value", INJECTIONS)
def test_header_safe_leaves_one_plain_line(value: str) -> None:
    safe = header_safe(value)
    assert "\r" not in safe
    assert "\n" not in safe
    assert "=?" not in safe
    assert all(ord(c) >= 0x20 and c not in "\x7f\x85\u2028\u2029" for c in safe)


def test_header_safe_bounds_length() -> None:
    assert len(header_safe("x" * 1000)) == 200


def test_recipients() -> None:
    assert validate_recipients(["a@example.com", "b.c+tag@sub.example.org"]) == [
        "a@example.com",
        "b.c+tag@sub.example.org",
    ]
    with pytest.raises(RecipientError, match="recipient 1"):
        validate_recipients(["valid@example.com", "invalid-email", "another@example.com"])
    with pytest.raises(RecipientError, match="51 recipients"):
        validate_recipients([f"user{i}@example.com" for i in range(51)])
    assert len(validate_recipients([f"user{i}@example.com" for i in range(50)])) == 50
    for bad in [
        "a@b",
        "a@@b.com",
        "a b@c.com",
        "a@b.com\nBcc: x@y.com",
        "<a@b.com>",
        "a@b.com,c@d.com",
        "",
        ".a@b.com",
    ]:
        with pytest.raises(RecipientError):
            validate_recipients([bad])
    with pytest.raises(RecipientError):
        validate_recipients([])
    with pytest.raises(RecipientError):
        validate_recipients("a@example.com")  # a string is not a list


def test_rendered_message_has_exactly_the_expected_headers() -> None:
    a = alert(summary="x\r\nBcc: evil@evil.com", tenant="=?utf-8?q?=0D=0AX-Evil:_1?=")
    msg = render_email(
        a, "alerts@example.com", ["ops@example.com"], "[$severity] $summary $tenant", "$summary", "msg_1"
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert sorted(k.lower() for k in parsed) == sorted(EXPECTED_HEADERS)
    assert str(parsed["To"]) == "ops@example.com"
    assert "\n" not in str(parsed["Subject"])
    assert str(parsed["Subject"]).startswith("[critical] x Bcc: evil@evil.com = ?utf-8?q?")


def test_message_id_is_the_same_on_every_attempt_of_a_delivery() -> None:
    def render(delivery_id: str) -> str:
        msg = render_email(alert(), "alerts@example.com", ["ops@example.com"], "$summary", "$summary", delivery_id)
        return str(msg["Message-ID"])

    assert render("dlv_0123abcd") == render("dlv_0123abcd") == "<dlv_0123abcd@example.com>"
    assert render("dlv_other") != render("dlv_0123abcd")
