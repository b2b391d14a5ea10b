"""The one settings object, read from the environment (names fixed in CONTRACT.md).

Unset broker/database means "start the local stack" (dev and tests). Secrets — the database URL
(it may hold a password) and everything under ``*_secret`` — are ``SecretStr``: masked in every
repr, log line and error message, revealed only where a connection is made.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from alertstream.schemas.topics import TopicNames


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTSTREAM_", extra="ignore", frozen=True)

    kafka_bootstrap: str | None = Field(default=None, description="bootstrap servers; unset = local broker")
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL URL; unset = embedded")
    schema_registry_url: str | None = Field(default=None, description="set = Confluent wire format")
    config: str | None = Field(default=None, description="YAML config path; unset = the example config")
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    metrics_port: int | None = Field(default=None, ge=0, le=65535, description="0 = disabled")
    # `alertstream api` (its /metrics is on this port too)
    api_host: str = Field(default="0.0.0.0", description="address the HTTP API listens on")  # noqa: S104
    api_port: int = Field(default=9410, ge=0, le=65535, description="HTTP API port (0 = any free port)")
    api_rate_limit: float = Field(default=20.0, gt=0, le=100_000, description="requests/s per API key (burst 2x)")
    api_max_request_bytes: int = Field(default=65_536, ge=1024, le=16_777_216, description="request body limit")

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_prefix)

    def database_dsn(self) -> str | None:
        """The database URL revealed, for the one place that connects (never log it)."""
        return self.database_url.get_secret_value() if self.database_url else None

    def require_database(self) -> str:
        """The database URL revealed, for processes that do not start a stack of their own."""
        dsn = self.database_dsn()
        if not dsn:
            raise SystemExit("ALERTSTREAM_DATABASE_URL is not set; point it at PostgreSQL or run `alertstream dev`")
        return dsn

    def require_bootstrap(self) -> str:
        """The broker address for processes that do not start a stack of their own."""
        if not self.kafka_bootstrap:
            raise SystemExit("ALERTSTREAM_KAFKA_BOOTSTRAP is not set; point it at a broker or run `alertstream dev`")
        return self.kafka_bootstrap
