"""A deliver process's receivers follow the config topic: newer valid documents only (no broker)."""

from __future__ import annotations

import json

import pytest

from alertstream.consumers.receiver_feed import ReceiverFeed
from alertstream.consumers.receivers import ReceiverBook
from alertstream.schemas.config import parse_config


def _doc(version: int, *names: str) -> bytes:
    receivers = [{"name": n, "channel": "webhook", "url": f"https://{n}.example"} for n in names]
    receivers.append(
        {
            "name": "ops-mail",
            "channel": "email",
            "smtp": {"host": "mail.example"},
            "from": "a@b.example",
            "to": ["c@d.example"],
        }
    )
    return json.dumps({"version": version, "receivers": receivers}).encode()


@pytest.fixture
def feed() -> ReceiverFeed:
    config = parse_config(json.loads(_doc(2, "a")), "file")
    return ReceiverFeed("127.0.0.1:1", "cfg", ReceiverBook(config.receivers, "webhook", config.version))


def test_newer_and_equal_versions_replace_the_channels_receivers(feed: ReceiverFeed) -> None:
    assert feed.book.names() == ["a"]
    assert feed.apply(_doc(3, "a", "b"), "topic cfg offset 0")
    assert (feed.book.version, feed.book.names()) == (3, ["a", "b"])  # only this channel's receivers
    assert feed.apply(_doc(3, "b"), "topic cfg offset 1")  # same version re-published: as the workers do
    assert (feed.book.version, feed.book.names()) == (3, ["b"])


def test_older_and_invalid_documents_are_ignored(feed: ReceiverFeed, caplog: pytest.LogCaptureFixture) -> None:
    assert not feed.apply(_doc(1, "old"), "topic cfg offset 0")
    assert not feed.apply(b"{not json", "topic cfg offset 1")
    bad = json.dumps({"version": 9, "receivers": [{"name": "w", "channel": "webhook"}]}).encode()
    assert not feed.apply(bad, "topic cfg offset 2")
    assert (feed.book.version, feed.book.names()) == (2, ["a"])
    assert "topic cfg offset 1: <root>: not JSON" in caplog.text
    assert "topic cfg offset 2: receivers[0]" in caplog.text
