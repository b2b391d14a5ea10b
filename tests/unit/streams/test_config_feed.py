"""Live config documents: a valid one becomes current, an invalid one is ignored (no broker)."""

from __future__ import annotations

import json

import pytest

from alertstream.streams.config_feed import ConfigFeed, StaleConfig, publish_config


@pytest.fixture
def feed() -> ConfigFeed:
    return ConfigFeed("127.0.0.1:1", "cfg")  # never started: apply() is pure


def _doc(version: int, warning: float) -> bytes:
    return json.dumps(
        {"version": version, "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": warning}]}
    ).encode()


def test_valid_document_becomes_latest(feed: ConfigFeed) -> None:
    assert feed.apply(_doc(3, 50), "topic cfg offset 0")
    assert feed.latest is not None
    assert feed.latest.version == 3
    assert feed.generation == 1


def test_invalid_documents_keep_the_previous_version(feed: ConfigFeed, caplog: pytest.LogCaptureFixture) -> None:
    feed.apply(_doc(3, 50), "topic cfg offset 0")
    assert not feed.apply(b"{not json", "topic cfg offset 1")
    assert not feed.apply(json.dumps({"rules": [{"id": "x", "metric": "m"}]}).encode(), "topic cfg offset 2")
    assert not feed.apply(json.dumps({"routes": {"receiver": "ghost"}}).encode(), "topic cfg offset 3")
    assert feed.latest is not None
    assert feed.latest.version == 3
    assert feed.generation == 1
    assert "topic cfg offset 2: rules[0]" in caplog.text
    assert "unknown receiver 'ghost'" in caplog.text


def test_versions_only_move_forward(feed: ConfigFeed, caplog: pytest.LogCaptureFixture) -> None:
    assert feed.apply(_doc(3, 50), "topic cfg offset 0")
    assert not feed.apply(_doc(2, 40), "topic cfg offset 1")  # a stale file republished
    assert feed.version == 3
    assert "ignoring config version 2 from topic cfg offset 1: older than version 3" in caplog.text
    assert feed.apply(_doc(3, 45), "topic cfg offset 2")  # the same version again: last one wins
    assert feed.apply(_doc(4, 60), "topic cfg offset 3")
    assert feed.version == 4
    assert feed.generation == 3


def test_publish_refuses_a_version_not_newer_than_the_one_in_force() -> None:
    doc = {"version": 2, "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 50}]}
    with pytest.raises(StaleConfig) as err:
        publish_config("127.0.0.1:1", "cfg", doc, in_force=2)  # refused before any broker contact
    assert str(err.value) == "topic cfg: version: 2 is not newer than version 2 in force: bump it to publish"
