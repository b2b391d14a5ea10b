"""The one settings object, read from the environment (names fixed in CONTRACT.md).

Unset broker/database means "start the local stack" (dev and tests). Secrets — the database URL
(it may hold a password), the schema registry's password and bearer token — are ``SecretStr``:
masked in every repr, log line and error message, revealed only where a connection is made.
Validation errors never echo an input (``hide_input_in_errors``). The registry URL must not carry
credentials: they have settings of their own, so the URL can be shown anywhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alertstream.runtime.group_start import DEFAULT_LOOKBACK_S
from alertstream.runtime.health import DEFAULT_STALL_S, Health
from alertstream.schemas.topics import TopicNames


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTSTREAM_", extra="ignore", frozen=True, hide_input_in_errors=True)

    kafka_bootstrap: str | None = Field(default=None, description="bootstrap servers; unset = local broker")
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL URL; unset = embedded")
    schema_registry_url: str | None = Field(default=None, description="set = Confluent wire format")
    schema_registry_username: str | None = Field(default=None, description="HTTP basic auth user of the registry")
    schema_registry_password: SecretStr | None = Field(default=None, description="... and its password")
    schema_registry_bearer_token: SecretStr | None = Field(default=None, description="or: Authorization: Bearer")
    schema_registry_ca_file: str | None = Field(default=None, description="PEM CAs to trust for an https registry")
    config: str | None = Field(default=None, description="YAML config path; unset = the example config")
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    metrics_port: int | None = Field(default=None, ge=0, le=65535, description="0 = disabled")
    # `alertstream api` (its /metrics is on this port too)
    api_host: str = Field(default="0.0.0.0", description="address the HTTP API listens on")  # noqa: S104
    api_port: int = Field(default=9410, ge=0, le=65535, description="HTTP API port (0 = any free port)")
    api_rate_limit: float = Field(default=20.0, gt=0, le=100_000, description="requests/s per API key (burst 2x)")
    api_max_request_bytes: int = Field(default=65_536, ge=1024, le=16_777_216, description="request body limit")
    api_max_alerts_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="body limit of POST /api/v2/alerts"
    )
    health_stall_seconds: float = Field(
        default=DEFAULT_STALL_S, gt=0, description="/healthz fails after a loop made no progress this long with work"
    )
    deliver_lookback_seconds: float = Field(
        default=DEFAULT_LOOKBACK_S,
        ge=-1,
        description="a deliver group new to a topic skips records older than this; -1 = deliver everything retained",
    )

    @field_validator("schema_registry_url")
    @classmethod
    def _registry_url_without_credentials(cls, url: str | None) -> str | None:
        if not url:
            return None
        for one in url.split(","):  # the client accepts several URLs, tried in turn
            parts = urlsplit(one.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("each registry URL must be http:// or https:// with a host")
            if parts.username is not None or parts.password is not None:
                raise ValueError(
                    "credentials in the registry URL are refused: use ALERTSTREAM_SCHEMA_REGISTRY_USERNAME/"
                    "_PASSWORD or _BEARER_TOKEN"
                )
        return url

    @model_validator(mode="after")
    def _one_registry_auth(self) -> Settings:
        if self.schema_registry_password is not None and not self.schema_registry_username:
            raise ValueError("ALERTSTREAM_SCHEMA_REGISTRY_PASSWORD needs ALERTSTREAM_SCHEMA_REGISTRY_USERNAME")
        if self.schema_registry_username and self.schema_registry_bearer_token is not None:
            raise ValueError("give the registry a username/password or a bearer token, not both")
        return self

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
