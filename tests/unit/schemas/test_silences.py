"""Silence and action documents (schemas/silences.py, schemas/actions.py)."""

from __future__ import annotations

import pytest

from alertstream.schemas.actions import Action, ActionError, new_action
from alertstream.schemas.matchers import parse_matchers
from alertstream.schemas.silences import Silence, SilenceError, muting_silence, new_silence

NOW = 1_800_000_000_000


def silence(text: str, start: int = NOW, end: int = NOW + 3_600_000, **kw: str) -> Silence:
    return new_silence(parse_matchers(text), start, end, kw.get("by", "ops"), kw.get("comment", ""), NOW)


def test_states_and_muting_follow_start_and_end() -> None:
    s = silence('tenant="acme", rule=~"db-.*"', NOW + 1000, NOW + 2000)
    labels = {"tenant": "acme", "rule": "db-pool", "severity": "critical"}
    assert s.state(NOW) == "pending"
    assert not s.mutes(labels, NOW)
    assert s.state(NOW + 1000) == "active"
    assert s.mutes(labels, NOW + 1000)
    assert not s.mutes({**labels, "rule": "api-latency"}, NOW + 1000)
    assert s.state(NOW + 2000) == "expired"
    assert not s.mutes(labels, NOW + 2000)


def test_expire_ends_an_active_silence_now_and_a_pending_one_never_starts() -> None:
    active = silence('tenant="acme"')
    ended = active.expired(NOW + 5000)
    assert (ended.ends_at, ended.state(NOW + 5000), ended.updated_at) == (NOW + 5000, "expired", NOW + 5000)
    pending = silence('tenant="acme"', NOW + 10_000, NOW + 20_000).expired(NOW + 1)
    assert (pending.starts_at, pending.ends_at) == (NOW + 1, NOW + 1)
    assert ended.expired(NOW + 9000) is ended  # expired stays as it is


def test_documents_round_trip_and_a_start_in_the_past_is_now() -> None:
    s = silence('severity!="info", tenant="acme", entity!~"test-.*"', NOW - 60_000, NOW + 60_000, comment="deploy")
    assert s.starts_at == NOW
    assert Silence.from_json(s.to_json()) == s


@pytest.mark.parametrize(
    ("text", "start", "end", "message"),
    [
        ('team=""', NOW, NOW + 1, "must not match the empty string"),
        ('team=~".*"', NOW, NOW + 1, "must not match the empty string"),
        ('tenant="a"', NOW + 10, NOW + 5, "ends_at is before starts_at"),
    ],
)
def test_invalid_silences_are_refused(text: str, start: int, end: int, message: str) -> None:
    with pytest.raises(SilenceError, match=message):
        silence(text, start, end)


def test_a_garbled_document_is_a_silence_error() -> None:
    for raw in (b"[]", b"{}", b'{"id": "x", "matchers": "no", "starts_at": 1, "ends_at": 2}', b"\xff"):
        with pytest.raises(SilenceError):
            Silence.from_json(raw)


def test_the_silence_that_mutes_is_the_one_ending_last() -> None:
    short, long = silence('tenant="acme"', end=NOW + 1000), silence('tenant="acme"', end=NOW + 9000)
    other = silence('tenant="other"', end=NOW + 99_000)
    assert muting_silence([short, long, other], {"tenant": "acme"}, NOW) == long
    assert muting_silence([short, long], {"tenant": "zeta"}, NOW) is None


def test_actions_round_trip_and_bad_ones_are_refused() -> None:
    a = new_action("acknowledge", "f" * 32, "acme", "api-key:k1", NOW, "on it", "a1")
    assert Action.from_json(a.to_json()) == a
    with pytest.raises(ActionError, match="unknown action"):
        Action.from_json(a.to_json().replace(b"acknowledge", b"snooze"))
    with pytest.raises(ActionError):
        Action.from_json(b'{"kind": "resolve"}')
