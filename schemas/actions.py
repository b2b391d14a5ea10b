"""User actions on an alert: the documents on the compacted actions topic — pure, shared.

``acknowledge``, ``unacknowledge`` and ``resolve``, each on one fingerprint (an alert's episode),
by an actor (``api-key:<id>``, ``cli:<user>``), at a time, with an optional comment. The API
(``POST /api/v1/alerts/{id}/ack|unack|resolve`` and the bulk variants) and the CLI
(``alertstream alerts ack|unack|resolve``) publish them; every worker follows the topic, and the
worker that owns the fingerprint's episode applies it (:mod:`alertstream.streams.lifecycle`); the
store writes one audit row per action.

Key: the fingerprint, so compaction keeps the newest action per fingerprint — enough, because an
applied action is recorded in the episode's own (changelogged) state; the topic only has to carry
it until the owner has seen it, also across a rebalance. ``action_id`` is unique per request (the
audit row's key); ``at`` orders actions and makes applying one twice a no-op.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

ActionKind = Literal["acknowledge", "unacknowledge", "resolve"]
KINDS: tuple[ActionKind, ...] = ("acknowledge", "unacknowledge", "resolve")
MAX_COMMENT = 2048


class ActionError(ValueError):
    """An action document that is not valid."""


@dataclass(frozen=True, slots=True)
class Action:
    action_id: str
    kind: ActionKind
    fingerprint: str
    tenant: str
    actor: str
    at: int  # epoch ms UTC
    comment: str = ""
    alert_id: str = ""  # the alert the user acted on, when there was one

    def to_dict(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "tenant": self.tenant,
            "actor": self.actor,
            "at": self.at,
            "comment": self.comment,
            "alert_id": self.alert_id,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: bytes) -> Action:
        try:
            data = json.loads(value)
            if not isinstance(data, dict):
                raise ActionError("an action is a JSON object")
            kind = str(data["kind"])
            if kind not in KINDS:
                raise ActionError(f"unknown action {kind!r}")
            return cls(
                action_id=str(data["action_id"]),
                kind=kind,
                fingerprint=str(data["fingerprint"]),
                tenant=str(data["tenant"]),
                actor=str(data["actor"]),
                at=int(data["at"]),
                comment=str(data.get("comment", ""))[:MAX_COMMENT],
                alert_id=str(data.get("alert_id", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ActionError):
                raise
            raise ActionError(f"not an action document: {exc}") from None


def new_action(
    kind: ActionKind, fingerprint: str, tenant: str, actor: str, at: int, comment: str = "", alert_id: str = ""
) -> Action:
    if len(comment) > MAX_COMMENT:
        raise ActionError(f"comment longer than {MAX_COMMENT} characters")
    return Action(uuid.uuid4().hex, kind, fingerprint, tenant, actor[:256], at, comment, alert_id)
