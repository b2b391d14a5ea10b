"""Keyset cursors: an opaque, URL-safe token holding the sort key of the last row of a page.

The next page is "rows strictly after this key" in the listing's order, so a page never repeats
or skips a row that existed when the first page was read, however many rows arrive meanwhile (rows
never change their sort key: history is insert-only). A cursor that does not decode, or belongs to
another listing, is a 400 — never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    listing: str  # "alerts" | "deliveries"
    at: datetime
    key: str  # the tiebreaker (alert_id, or a delivery outcome id)

    def encode(self) -> str:
        raw = json.dumps([self.listing, int(self.at.timestamp() * 1_000_000), self.key], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, listing: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        kind, micros, key = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not one this API returned") from None
    if kind != listing or not isinstance(micros, int) or not isinstance(key, str) or len(key) > 256:
        raise InvalidCursor(f"the cursor is not one of {listing}")
    try:
        at = datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidCursor("the cursor's time is out of range") from None
    return Cursor(kind, at, key)
