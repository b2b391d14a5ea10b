"""The live feed's cursor over audit-log ids (out-of-order commits, holes that never fill) and the
event-stream frames, without a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alertstream.api.console import sse
from alertstream.api.console.live_cursor import FeedCursor, Hole


def test_ids_in_order_are_delivered_once_and_leave_no_hole() -> None:
    cursor, out = FeedCursor(10).advance([11, 12, 13], now=0)
    assert out == [11, 12, 13]
    assert cursor == FeedCursor(13)
    cursor, out = cursor.advance([], now=1)
    assert out == []
    assert cursor == FeedCursor(13)


def test_an_id_committed_after_a_higher_one_is_delivered_late_not_lost() -> None:
    # 12 commits before 11: the reader sees 12 first
    cursor, out = FeedCursor(10).advance([12], now=0)
    assert out == [12]
    assert cursor.holes == (Hole(11, 11, 0),)
    cursor, out = cursor.advance([11, 13], now=1)
    assert out == [11, 13]
    assert cursor == FeedCursor(13)
    # the same rows read again (a poll that overlaps) are never sent twice
    cursor, out = cursor.advance([11, 12, 13], now=2)
    assert out == []


def test_a_hole_that_never_fills_is_forgotten_after_the_wait() -> None:
    cursor, _ = FeedCursor(0).advance([5], now=0, wait=30)
    assert cursor.holes == (Hole(1, 4, 0),)
    cursor, out = cursor.advance([], now=29, wait=30)
    assert cursor.holes == (Hole(1, 4, 0),)
    cursor, out = cursor.advance([], now=31, wait=30)
    assert cursor.holes == ()
    cursor, out = cursor.advance([3], now=32, wait=30)
    assert out == []  # too late: below the top and no longer awaited


def test_a_partly_filled_range_splits_and_keeps_its_age() -> None:
    cursor, _ = FeedCursor(0).advance([1000], now=0)
    assert cursor.holes == (Hole(1, 999, 0),)
    cursor, out = cursor.advance([1, 500, 999], now=5)
    assert out == [1, 500, 999]
    assert cursor.holes == (Hole(2, 499, 0), Hole(501, 998, 0))


def test_at_most_max_ranges_are_kept_the_oldest_go_first() -> None:
    cursor, _ = FeedCursor(0).advance([2, 4, 6], now=0, max_ranges=5)  # holes 1, 3, 5 noticed at 0
    cursor, _ = cursor.advance([8, 10], now=1, max_ranges=3)  # holes 7, 9 noticed at 1
    assert cursor.holes == (Hole(5, 5, 0), Hole(7, 7, 1), Hole(9, 9, 1))


def test_a_frame_is_one_event_whatever_the_payload_holds() -> None:
    change = sse.Change.from_row(
        {
            "id": 7,
            "at": datetime(2026, 12, 1, tzinfo=UTC),
            "action": "fired",
            "actor": "evaluator",
            "reason": "new",
            "tenant": "acme",
            "alert_id": "a1",
            "fingerprint": "fp",
            "delivery_id": None,
            "severity": "critical",
            "status": "firing",
            "rule_id": "cpu",
            "summary": "two\n\nlines\ndata: injected",
            "entity": "db",
        }
    )
    raw = sse.frame("change", change.data(), change.id).decode()
    assert raw.endswith("\n\n")
    assert raw.count("\n\n") == 1
    lines = raw.strip("\n").split("\n")
    assert lines[:2] == ["id: 7", "event: change"]
    assert len(lines) == 3
    assert json.loads(lines[2].removeprefix("data: "))["alert"]["summary"] == "two\n\nlines\ndata: injected"
    assert sse.comment("a\nb") == b": a b\n\n"


def test_a_tenant_sees_only_its_rows_and_an_admin_every_row() -> None:
    row = {
        "id": 1,
        "at": datetime(2026, 12, 1, tzinfo=UTC),
        "action": "api_key_created",
        "actor": "cli:root",
        "reason": None,
        "tenant": None,
        "alert_id": None,
        "fingerprint": None,
        "delivery_id": None,
        "severity": None,
    }
    keyless = sse.Change.from_row(row)
    acme = sse.Change.from_row({**row, "tenant": "acme"})
    assert keyless.alert is None
    assert not keyless.visible_to("acme")
    assert keyless.visible_to(None)
    assert acme.visible_to("acme")
    assert not acme.visible_to("globex")
