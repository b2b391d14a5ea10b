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


def test_registry_credentials_are_their_own_secret_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTSTREAM_SCHEMA_REGISTRY_URL", "https://registry.example:8081")
    monkeypatch.setenv("ALERTSTREAM_SCHEMA_REGISTRY_USERNAME", "sr-user")
    monkeypatch.setenv("ALERTSTREAM_SCHEMA_REGISTRY_PASSWORD", "hunter2-registry")
    s = Settings()
    assert s.schema_registry_password is not None
    assert s.schema_registry_password.get_secret_value() == "hunter2-registry"
    for shown in (repr(s), str(s), s.model_dump_json()):
        assert "hunter2-registry" not in shown


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"URL": "https://u:hunter2@registry.example"}, "credentials in the registry URL are refused"),
        ({"URL": "https://ok.example,http://u:hunter2@other.example"}, "credentials in the registry URL"),
        ({"URL": "registry.example:8081"}, "must be http:// or https://"),
        ({"URL": "https://r.example", "PASSWORD": "hunter2"}, "PASSWORD needs ALERTSTREAM_SCHEMA_REGISTRY_USERNAME"),
        ({"URL": "https://r.example", "USERNAME": "u", "BEARER_TOKEN": "hunter2"}, "not both"),
    ],
)
def test_registry_settings_are_checked_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], problem: str
) -> None:
    from pydantic import ValidationError

    for name, value in env.items():
        monkeypatch.setenv(f"ALERTSTREAM_SCHEMA_REGISTRY_{name}", value)
    with pytest.raises(ValidationError) as err:
        Settings()
    assert problem in str(err.value)
    assert "hunter2" not in str(err.value)
