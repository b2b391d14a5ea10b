"""Which dead-lettered tasks `dlq list|replay --since/--until/--fingerprint` selects."""

from __future__ import annotations

import pytest
import typer

from alertstream.cli_consumers import _time
from alertstream.runtime.dlq import DlqEntry, select


def _entry(offset: int, ts: int, fingerprint: str | None) -> DlqEntry:
    task = None if fingerprint is None else {"alert": {"fingerprint": fingerprint}}
    return DlqEntry(0, offset, ts, "http_400", {}, task, b"")


ENTRIES = [_entry(0, 1000, "a"), _entry(1, 2000, "b"), _entry(2, 3000, "a"), _entry(3, 2000, None)]


def _offsets(since_ms: int | None = None, until_ms: int | None = None, fingerprint: str | None = None) -> list[int]:
    return [e.offset for e in select(iter(ENTRIES), since_ms, until_ms, fingerprint)]


def test_no_filter_selects_everything_including_undecodable() -> None:
    assert _offsets() == [0, 1, 2, 3]


def test_time_bounds_are_inclusive() -> None:
    assert _offsets(since_ms=2000) == [1, 2, 3]
    assert _offsets(until_ms=2000) == [0, 1, 3]
    assert _offsets(since_ms=2000, until_ms=2000) == [1, 3]


def test_fingerprint_excludes_undecodable_entries() -> None:
    assert _offsets(fingerprint="a") == [0, 2]
    assert _offsets(fingerprint="a", since_ms=1500) == [2]


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1700000000000", 1_700_000_000_000),
        ("2023-11-14T22:13:20Z", 1_700_000_000_000),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000_000),
        ("2023-11-14T22:13:20", 1_700_000_000_000),  # no zone: UTC
        (None, None),
    ],
)
def test_cli_times_are_rfc3339_or_epoch_ms(text: str | None, ms: int | None) -> None:
    assert _time(text) == ms


def test_cli_rejects_other_times() -> None:
    with pytest.raises(typer.BadParameter, match="neither RFC 3339 nor epoch milliseconds"):
        _time("yesterday")
