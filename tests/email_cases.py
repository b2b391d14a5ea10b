"""E-mail header-injection cases and the exact header set of a rendered alert e-mail, shared by
the renderer's unit tests and the SMTP integration test (seed 000's e-mail security cases)."""

from __future__ import annotations

#: Values that try to add a header or a body through a templated field.
INJECTIONS = [
    "x\r\nBcc: attacker@evil.example",
    "x\nX-Injected: 1",
    "x\rCc: cc@evil.example",
    "x\u2028Bcc: sep@evil.example",
    "x\x85Bcc: nel@evil.example",
    "x\x00\r\n\r\nbody-smuggle",
    "=?utf-8?q?x=0D=0ABcc:_encoded@evil.example?=",
    "=?utf-8?b?eA0KQmNjOiBiNjRAZXZpbC5leGFtcGxl?=",
]

#: Every header of a rendered alert e-mail, lower-cased: any other one is an injection.
EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "x-alertstream-delivery-id",
    "x-alertstream-fingerprint",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
}
