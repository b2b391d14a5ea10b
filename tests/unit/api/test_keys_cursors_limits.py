"""Pure parts of the API: key format and hashing, keyset cursors, the per-key token bucket."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from alertstream.api import keys
from alertstream.api.pagination import Cursor, InvalidCursor, decode
from alertstream.api.rate_limit import RateLimiter


def test_a_key_is_a_public_id_and_a_256_bit_secret_and_only_its_sha256_is_kept() -> None:
    new = keys.generate()
    assert new.key.startswith(f"ask_{new.key_id}_")
    assert len(new.key_id) == 12
    assert keys.parse_key_id(new.key) == new.key_id
    assert new.digest == hashlib.sha256(new.key.encode()).digest()
    assert keys.matches(new.key, new.digest)
    assert not keys.matches(new.key[:-1] + ("A" if new.key[-1] != "A" else "B"), new.digest)
    assert keys.generate().key != new.key


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "ask_",
        "Bearer ask_x",
        "ask_UPPERCASE1234_" + "a" * 43,
        "ask_abcdefghijkl_" + "a" * 42,
        "ask_abcdefghijkl_" + "!" * 43,
        "ask_abcdefghijkl_" + "a" * 43 + "\n",  # `$` matched before a final newline
    ],
)
def test_malformed_keys_have_no_id(presented: str) -> None:
    assert keys.parse_key_id(presented) is None


def test_tenant_names_are_bounded() -> None:
    assert keys.valid_tenant("acme-prod.eu:1@x")
    assert not keys.valid_tenant("")
    assert not keys.valid_tenant("a b")
    assert not keys.valid_tenant("acme\n")  # `$` matched before a final newline
    assert not keys.valid_tenant("x" * 129)


def test_a_cursor_round_trips_and_is_bound_to_its_listing() -> None:
    at = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
    token = Cursor("alerts", at, "al-1").encode()
    assert decode(token, "alerts") == Cursor("alerts", at, "al-1")
    with pytest.raises(InvalidCursor):
        decode(token, "deliveries")


@pytest.mark.parametrize(
    "token", ["", "!!!", "bm90IGpzb24", "WzEsMiwzXQ", "WyJhbGVydHMiLCJ4IiwiYSJd", "WyJhbGVydHMiLDFlMzAsImEiXQ"]
)
def test_a_foreign_cursor_is_invalid_never_an_exception_of_another_kind(token: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(token, "alerts")


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=4.0)
    assert [limiter.take("k", 0.0) for _ in range(4)] == [0.0] * 4
    assert limiter.take("k", 0.0) == pytest.approx(0.5)  # next token in 1 / rate
    assert limiter.take("other", 0.0) == 0.0  # one bucket per key
    assert limiter.take("k", 0.5) == 0.0
    assert limiter.take("k", 0.5) > 0
    assert [limiter.take("k", 100.0) for _ in range(5)] == [0.0] * 4 + [pytest.approx(0.5)]  # refills to the burst
