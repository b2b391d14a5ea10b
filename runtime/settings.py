"""The one settings object, read from the environment (names fixed in CONTRACT.md).

Unset broker/database means "start the local stack" (dev and tests). Secrets — the database URL
(it may hold a password) and everything under ``*_secret`` — are ``SecretStr``: masked in every
repr, log line and error message, revealed only where a connection is made.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from alertstream.runtime.group_start import DEFAULT_LOOKBACK_S
from alertstream.runtime.health import DEFAULT_STALL_S, Health
from alertstream.schemas.topics import TopicNames


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTSTREAM_", extra="ignore", frozen=True)

    kafka_bootstrap: str | None = Field(default=None, description="bootstrap servers; unset = local broker")
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL URL; unset = embedded")
    schema_registry_url: str | None = Field(default=None, description="set = Confluent wire format")
    config: str | None = Field(default=None, description="YAML config path; unset = the example config")
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    metrics_port: int | None = Field(default=None, ge=0, le=65535, description="0 = disabled")
    health_stall_seconds: float = Field(
        default=DEFAULT_STALL_S, gt=0, description="/healthz fails after a loop made no progress this long with work"
    )
    deliver_lookback_seconds: float = Field(
        default=DEFAULT_LOOKBACK_S,
        ge=-1,
        description="a deliver group new to a topic skips records older than this; -1 = deliver everything retained",
    )

    def deliver_lookback(self) -> float | None:
        """The look-back of a new deliver group (:mod:`alertstream.runtime.group_start`); None = all."""
        return None if self.deliver_lookback_seconds < 0 else self.deliver_lookback_seconds

    def health(self) -> Health:
        """A fresh progress/readiness tracker for this process (:mod:`alertstream.runtime.health`)."""
        return Health(stall_after_s=self.health_stall_seconds)

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_prefix)

    def database_dsn(self) -> str | None:
        """The database URL revealed, for the one place that connects (never log it)."""
        return self.database_url.get_secret_value() if self.database_url else None

    def require_bootstrap(self) -> str:
        """The broker address for processes that do not start a stack of their own."""
        if not self.kafka_bootstrap:
            raise SystemExit("ALERTSTREAM_KAFKA_BOOTSTRAP is not set; point it at a broker or run `alertstream dev`")
        return self.kafka_bootstrap
