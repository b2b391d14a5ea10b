"""Pure: Server-Sent Events frames (the text/event-stream format), and the change events the live
stream sends for audit rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: how long a browser waits before it reconnects (the console's own client reads this too)
RETRY_MS = 2000


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One event. ``data`` is JSON on one line (json.dumps escapes newlines), so no field of the
    payload can end the frame early or inject a field of its own."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, separators=(",", ":"), default=_default)
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


def comment(text: str) -> bytes:
    """A comment line: keeps idle connections (and the proxies on the way) open."""
    return f": {text.replace(chr(10), ' ').replace(chr(13), ' ')}\n\n".encode()


def retry() -> bytes:
    return f"retry: {RETRY_MS}\n\n".encode()


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Change:
    """One audit row as the live stream shows it: what happened to which alert, and the alert's
    headline fields (so a page can say "new critical alert: …" without another request)."""

    id: int
    at: datetime
    action: str
    actor: str
    reason: str | None
    tenant: str | None
    alert_id: str | None
    fingerprint: str | None
    delivery_id: str | None
    alert: dict[str, Any] | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Change:
        alert = None
        if r.get("severity") is not None:
            alert = {k: r[k] for k in ("severity", "status", "rule_id", "summary", "entity")}
        return cls(
            id=int(r["id"]),
            at=r["at"],
            action=r["action"],
            actor=r["actor"],
            reason=r["reason"],
            tenant=r["tenant"],
            alert_id=r["alert_id"],
            fingerprint=r["fingerprint"],
            delivery_id=r["delivery_id"],
            alert=alert,
        )

    def visible_to(self, scope: str | None) -> bool:
        """A tenant sees its own rows; an admin scope (None) every row."""
        return scope is None or self.tenant == scope

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "action": self.action,
            "actor": self.actor,
            "reason": self.reason,
            "tenant": self.tenant,
            "alert_id": self.alert_id,
            "fingerprint": self.fingerprint,
            "delivery_id": self.delivery_id,
            "alert": self.alert,
        }
