"""E-mail rendering with header injection made impossible, and recipient validation.

Every templated header value goes through :func:`header_safe`: control characters (CR, LF, NUL,
tab, NEL, Unicode line/paragraph separators) become spaces and ``=?`` — the start of an RFC 2047
encoded word, which a client would decode into arbitrary text — is broken up, so no field can add
a header or smuggle one in encoded. The message is then built with :class:`email.message.EmailMessage`
under the strict SMTP policy, which itself refuses line breaks in header values (a second wall).
Recipients: at most 50, each a plain ``local@domain`` address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from string import Template
from typing import Any

from alertstream.consumers.render import template_fields

MAX_RECIPIENTS = 50
MAX_SUBJECT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


class RecipientError(ValueError):
    """A recipient list that must not be used; the message says which entry and why."""


def header_safe(value: str, limit: int = MAX_SUBJECT) -> str:
    """A single-line header value: no control characters, no encoded-word openers, bounded."""
    text = _CONTROL.sub(" ", value)
    while "=?" in text:
        text = text.replace("=?", "= ?")
    text = " ".join(text.split())
    return text[:limit]


def validate_address(address: str) -> str:
    if len(address) > 254 or not _ADDRESS.match(address) or len(address.split("@", 1)[0]) > 64:
        raise RecipientError(f"not a valid e-mail address: {address[:80]!r}")
    return address


def validate_recipients(recipients: Sequence[str]) -> list[str]:
    if isinstance(recipients, str):
        raise RecipientError("recipients must be a list of addresses")
    if not recipients:
        raise RecipientError("no recipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise RecipientError(f"{len(recipients)} recipients > limit {MAX_RECIPIENTS}")
    out: list[str] = []
    for i, r in enumerate(recipients):
        try:
            out.append(validate_address(r))
        except RecipientError as exc:
            raise RecipientError(f"recipient {i}: {exc}") from None
    return out


def render_email(
    alert: dict[str, Any],
    sender: str,
    recipients: Sequence[str],
    subject_template: str,
    body_template: str,
    delivery_id: str,
) -> EmailMessage:
    """The message for one delivery; raises RecipientError for a bad sender/recipient list."""
    to = validate_recipients(recipients)
    validate_address(sender)
    fields = template_fields(alert)
    subject_fields = {k: header_safe(v, 1000) for k, v in fields.items()}
    subject = header_safe(Template(subject_template).safe_substitute(subject_fields))
    body = Template(body_template).safe_substitute(fields)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    # Stable across retries (derived from the delivery id), so a mail system can drop a re-send.
    msg["Message-ID"] = f"<{header_safe(delivery_id, 100)}@{header_safe(sender.rsplit('@', 1)[1], 253)}>"
    msg["X-Alertstream-Delivery-Id"] = header_safe(delivery_id, 100)
    msg["X-Alertstream-Fingerprint"] = header_safe(alert["fingerprint"], 128)
    msg.set_content(body, subtype="plain", charset="utf-8")
    return msg
