"""Silences: the documents on the compacted silences topic — pure, shared by every stage.

A silence is matchers (:mod:`alertstream.schemas.matchers`: ``=``, ``!=``, ``=~``, ``!~`` over an
alert's label set — ``tenant``, ``rule``/``alertname``, ``severity``, ``entity`` and the event
labels), a start and an end, who created it and why. Alertmanager's rules:

* **state** at ``now``: ``pending`` before ``starts_at``, ``active`` until ``ends_at`` (exclusive),
  then ``expired``. Only an active silence mutes.
* **expire** ends it now: an active one gets ``ends_at = now``; a pending one never starts
  (``starts_at = ends_at = now``); an expired one is left as it is.
* a silence needs at least one matcher that does not match the empty string (else it would mute
  every alert, including ones without the label), and ``ends_at`` after ``starts_at``.

Key on the topic: the silence id; value: the JSON of :meth:`Silence.to_json` (every change —
create, update, expire — publishes the whole document again, so compaction keeps the current one;
a tombstone forgets it). The API, the CLI and amtool (through ``/api/v2/silences``) write them;
every worker follows the topic (the view must be global: an alert arises on any partition) and
the store writes one audit row per document.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from alertstream.schemas.matchers import Matcher, MatcherError, matches_all

State = Literal["pending", "active", "expired"]
MAX_COMMENT = 2048
MAX_MATCHERS = 64


class SilenceError(ValueError):
    """A silence document that is not valid (the message says what)."""


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: int  # epoch ms UTC
    ends_at: int
    created_by: str
    comment: str
    updated_at: int

    def state(self, now_ms: int) -> State:
        if now_ms < self.starts_at:
            return "pending"
        return "active" if now_ms < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now_ms: int) -> bool:
        return self.state(now_ms) == "active" and matches_all(self.matchers, labels)

    def expired(self, now_ms: int) -> Silence:
        state = self.state(now_ms)
        if state == "expired":
            return self
        if state == "pending":
            return replace(self, starts_at=now_ms, ends_at=now_ms, updated_at=now_ms)
        return replace(self, ends_at=now_ms, updated_at=now_ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [m.to_api() for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "updated_at": self.updated_at,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: bytes) -> Silence:
        try:
            data = json.loads(value)
            if not isinstance(data, dict):
                raise SilenceError("a silence is a JSON object")
            return check(
                cls(
                    id=str(data["id"]),
                    matchers=tuple(Matcher.from_api(m) for m in data["matchers"]),
                    starts_at=int(data["starts_at"]),
                    ends_at=int(data["ends_at"]),
                    created_by=str(data.get("created_by", "")),
                    comment=str(data.get("comment", "")),
                    updated_at=int(data.get("updated_at", 0)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SilenceError):
                raise
            raise SilenceError(f"not a silence document: {exc}") from None


def check(s: Silence) -> Silence:
    """Alertmanager's validation; raises :class:`SilenceError`."""
    if not s.matchers:
        raise SilenceError("a silence needs at least one matcher")
    if len(s.matchers) > MAX_MATCHERS:
        raise SilenceError(f"at most {MAX_MATCHERS} matchers")
    if all(m.matches({}) for m in s.matchers):
        raise SilenceError("at least one matcher must not match the empty string (it would silence every alert)")
    if s.ends_at < s.starts_at:
        raise SilenceError("ends_at is before starts_at")
    if len(s.comment) > MAX_COMMENT:
        raise SilenceError(f"comment longer than {MAX_COMMENT} characters")
    if not s.id or len(s.id) > 128:
        raise SilenceError("a silence id is 1 to 128 characters")
    return s


def new_silence(
    matchers: Sequence[Matcher],
    starts_at: int,
    ends_at: int,
    created_by: str,
    comment: str,
    now_ms: int,
    silence_id: str | None = None,
) -> Silence:
    """A validated new (or updated, with ``silence_id``) silence; a start in the past is now."""
    try:
        return check(
            Silence(
                silence_id or str(uuid.uuid4()),
                tuple(matchers),
                max(starts_at, now_ms) if silence_id is None else starts_at,
                ends_at,
                created_by[:256],
                comment,
                now_ms,
            )
        )
    except MatcherError as exc:
        raise SilenceError(str(exc)) from None


def muting_silence(silences: Iterable[Silence], labels: Mapping[str, str], now_ms: int) -> Silence | None:
    """The active silence that mutes ``labels`` (the one ending last, so that the reason recorded
    stays true longest), or None."""
    best: Silence | None = None
    for s in silences:
        if s.mutes(labels, now_ms) and (best is None or s.ends_at > best.ends_at):
            best = s
    return best
