"""Settings: env names from the contract, secrets masked."""

from __future__ import annotations

import pytest

from alertstream.dev import _redact
from alertstream.runtime.settings import Settings


def test_env_names_and_masking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTSTREAM_KAFKA_BOOTSTRAP", "k:9092")
    monkeypatch.setenv("ALERTSTREAM_DATABASE_URL", "postgresql://u:hunter2@db/x")
    monkeypatch.setenv("ALERTSTREAM_TOPIC_PREFIX", "stg.")
    s = Settings()
    assert s.kafka_bootstrap == "k:9092"
    assert s.topics.alerts == "stg.alerts"
    assert s.topics.retry("slack", 2) == "stg.alerts.slack.retry.2"
    for shown in (repr(s), str(s), s.model_dump_json()):
        assert "hunter2" not in shown
    assert s.database_dsn() == "postgresql://u:hunter2@db/x"


def test_redact_database_url() -> None:
    assert _redact("postgresql://u:hunter2@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert _redact("postgresql://postgres@127.0.0.1:5/postgres") == "postgresql://postgres@127.0.0.1:5/postgres"


def test_deliver_lookback(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().deliver_lookback() == 900.0
    monkeypatch.setenv("ALERTSTREAM_DELIVER_LOOKBACK_SECONDS", "0")
    assert Settings().deliver_lookback() == 0.0
    monkeypatch.setenv("ALERTSTREAM_DELIVER_LOOKBACK_SECONDS", "-1")
    assert Settings().deliver_lookback() is None
