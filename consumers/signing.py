"""Standard Webhooks signing (spec: standard-webhooks.md, "Signature scheme").

``webhook-id`` is the delivery id (stable across attempts), ``webhook-timestamp`` is Unix seconds
taken fresh at each attempt, and ``webhook-signature`` is a space-separated list of
``v1,<base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}"))>`` — one per configured secret, so a
receiver can rotate its secret without missing a delivery. Secrets are ``whsec_<base64>``; the
bytes after decoding are the HMAC key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret


class SigningSecret:
    """A decoded signing secret; its repr never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a webhook signing secret must be at least 16 bytes")
        self._key = key

    @classmethod
    def parse(cls, text: str) -> SigningSecret:
        """``whsec_<base64>`` → secret. Raises ValueError (without echoing the secret) otherwise."""
        text = text.strip()
        if not text.startswith(SECRET_PREFIX):
            raise ValueError("a webhook signing secret must start with whsec_")
        try:
            key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a webhook signing secret must be whsec_ followed by base64") from None
        return cls(key)

    @property
    def key(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return "SigningSecret(***)"


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def signature(secret: SigningSecret, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature."""
    mac = hmac.new(secret.key, signed_content(msg_id, timestamp, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def sign_headers(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[SigningSecret]) -> dict[str, str]:
    """The three Standard Webhooks headers; without secrets only id and timestamp are sent."""
    if any(c in msg_id for c in " ,.\r\n"):
        raise ValueError("webhook-id must not contain spaces, commas, dots or line breaks")
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp))}
    if secrets:
        headers["webhook-signature"] = " ".join(signature(s, msg_id, timestamp, body) for s in secrets)
    return headers


def verify(
    secrets: Sequence[SigningSecret],
    msg_id: str,
    timestamp: str,
    signatures: str,
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float = 300.0,
) -> bool:
    """Receiver side: True when the timestamp is fresh and any ``v1`` signature matches any secret.

    For receivers written in Python (the dev demo sink uses it); the tests check deliveries with
    an independent implementation instead. Comparison is constant-time; a stale or future
    timestamp fails, which is what stops a captured request from being replayed later.
    """
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > tolerance_seconds:
        return False
    offered = [s.partition(",")[2] for s in signatures.split(" ") if s.startswith("v1,")]
    for secret in secrets:
        expected = signature(secret, msg_id, sent_at, body).partition(",")[2]
        if any(hmac.compare_digest(expected, got) for got in offered):
            return True
    return False
