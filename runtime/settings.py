"""The one settings object, read from the environment (names fixed in CONTRACT.md).

Unset broker/database means "start the local stack" (dev and tests). Secrets — the database URL
(it may hold a password), the schema registry's password and bearer token — are ``SecretStr``:
masked in every repr, log line and error message, revealed only where a connection is made.
Validation errors never echo an input (``hide_input_in_errors``). The registry URL must not carry
credentials: they have settings of their own, so the URL can be shown anywhere.

Every secret setting can also come from a file: ``ALERTSTREAM_<NAME>_FILE=/path`` (a mounted
Kubernetes Secret, a Docker secret) instead of ``ALERTSTREAM_<NAME>``; one of the two, not both.
The Kafka connection (TLS, SASL, any librdkafka property) is one object for every client of the
process: :meth:`Settings.kafka_connection` (:mod:`alertstream.runtime.kafka_connection`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from alertstream.runtime.group_start import DEFAULT_LOOKBACK_S
from alertstream.runtime.health import DEFAULT_STALL_S, Health
from alertstream.runtime.kafka_connection import KafkaConnection, normalise, read_properties_file
from alertstream.schemas.topics import TopicNames

ENV_PREFIX = "ALERTSTREAM_"


class MissingSetting(Exception):
    """A setting the command needs is not set (the CLI exits with code 2, naming it)."""


class SecretFiles(PydanticBaseSettingsSource):
    """``ALERTSTREAM_<NAME>_FILE``: a secret setting read from a file (trailing newline dropped)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # not used: __call__ answers for every field at once

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            if info.annotation not in (SecretStr, SecretStr | None):
                continue
            variable = f"{ENV_PREFIX}{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise ValueError(f"set {variable} or {variable}_FILE, not both")
            try:
                out[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{variable}_FILE: cannot read {path}: {exc.strerror}") from None
        return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True)

    kafka_bootstrap: str | None = Field(default=None, description="bootstrap servers; unset = local broker")
    # -- the Kafka connection of every client (kafka_connection(); names of librdkafka in the docstrings)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        default=None, description="security.protocol (default PLAINTEXT)"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = Field(
        default=None, description="sasl.mechanism"
    )
    kafka_sasl_username: str | None = Field(default=None, description="sasl.username")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="sasl.password")
    kafka_sasl_oauth_token_url: str | None = Field(default=None, description="sasl.oauthbearer.token.endpoint.url")
    kafka_sasl_oauth_client_id: str | None = Field(default=None, description="sasl.oauthbearer.client.id")
    kafka_sasl_oauth_client_secret: SecretStr | None = Field(default=None, description="sasl.oauthbearer.client.secret")
    kafka_sasl_oauth_scope: str | None = Field(default=None, description="sasl.oauthbearer.scope")
    kafka_ssl_ca_file: str | None = Field(default=None, description="ssl.ca.location: PEM CAs to trust")
    kafka_ssl_cert_file: str | None = Field(default=None, description="ssl.certificate.location (mutual TLS)")
    kafka_ssl_key_file: str | None = Field(default=None, description="ssl.key.location (mutual TLS)")
    kafka_ssl_key_password: SecretStr | None = Field(default=None, description="ssl.key.password")
    kafka_ssl_check_hostname: bool | None = Field(
        default=None, description="false = ssl.endpoint.identification.algorithm=none"
    )
    kafka_properties: dict[str, SecretStr] = Field(
        default_factory=dict, description="any other librdkafka property, as a JSON object"
    )
    kafka_properties_file: str | None = Field(default=None, description="a client.properties file (key=value)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="level of every logger, Faust's and librdkafka's included"
    )
    log_format: Literal["text", "json"] = Field(default="text", description="json = one JSON object per line")
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings, file_secret_settings

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

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

    def kafka_connection(self) -> KafkaConnection:
        """The connection of every Kafka client of this process: the properties file first, then
        the passthrough JSON, then the typed settings; the same property from two of them is an
        error (which one wins would be a guess). Raises ``ValueError`` naming the variable."""
        merged: dict[str, str] = {}
        origin: dict[str, str] = {}
        problems: list[str] = []

        def add(source: str, props: dict[str, str]) -> None:
            for name, value in normalise(props).items():
                if name in merged and merged[name] != value:
                    problems.append(f"{name} is set by both {origin[name]} and {source}")
                merged[name], origin[name] = value, source

        if self.kafka_properties_file:
            from_file = read_properties_file(self.kafka_properties_file)
            listed = from_file.pop("bootstrap.servers", None)  # Confluent Cloud's file carries it
            if listed is not None and listed != self.kafka_bootstrap:
                problems.append(
                    f"{ENV_PREFIX}KAFKA_PROPERTIES_FILE lists bootstrap.servers={listed}: set "
                    f"{ENV_PREFIX}KAFKA_BOOTSTRAP to it (unset means the local broker)"
                )
            add(f"{ENV_PREFIX}KAFKA_PROPERTIES_FILE", from_file)
        add(f"{ENV_PREFIX}KAFKA_PROPERTIES", {k: v.get_secret_value() for k, v in self.kafka_properties.items()})
        typed: dict[str, str] = {}
        for field_name, prop in _TYPED_PROPERTIES.items():
            value = getattr(self, field_name)
            if value is not None:
                typed[prop] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if self.kafka_sasl_mechanism == "OAUTHBEARER":
            typed["sasl.oauthbearer.method"] = "oidc"
        if self.kafka_ssl_check_hostname is not None:
            typed["ssl.endpoint.identification.algorithm"] = "https" if self.kafka_ssl_check_hostname else "none"
        for prop, value in typed.items():
            add(f"{ENV_PREFIX}{_VARIABLE[prop]}", {prop: value})
        if problems:
            raise ValueError("; ".join(problems))
        return KafkaConnection.build("Kafka connection settings", merged)

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
            raise MissingSetting("ALERTSTREAM_DATABASE_URL is not set; point it at PostgreSQL or run `alertstream dev`")
        return dsn

    def require_bootstrap(self) -> str:
        """The broker address for processes that do not start a stack of their own."""
        if not self.kafka_bootstrap:
            raise MissingSetting(
                "ALERTSTREAM_KAFKA_BOOTSTRAP is not set; point it at a broker or run `alertstream dev`"
            )
        return self.kafka_bootstrap


#: The typed Kafka settings and the librdkafka property each one sets.
_TYPED_PROPERTIES = {
    "kafka_security_protocol": "security.protocol",
    "kafka_sasl_mechanism": "sasl.mechanism",
    "kafka_sasl_username": "sasl.username",
    "kafka_sasl_password": "sasl.password",
    "kafka_sasl_oauth_token_url": "sasl.oauthbearer.token.endpoint.url",
    "kafka_sasl_oauth_client_id": "sasl.oauthbearer.client.id",
    "kafka_sasl_oauth_client_secret": "sasl.oauthbearer.client.secret",
    "kafka_sasl_oauth_scope": "sasl.oauthbearer.scope",
    "kafka_ssl_ca_file": "ssl.ca.location",
    "kafka_ssl_cert_file": "ssl.certificate.location",
    "kafka_ssl_key_file": "ssl.key.location",
    "kafka_ssl_key_password": "ssl.key.password",
}
_VARIABLE = {prop: field.upper() for field, prop in _TYPED_PROPERTIES.items()} | {
    "sasl.oauthbearer.method": "KAFKA_SASL_MECHANISM",
    "ssl.endpoint.identification.algorithm": "KAFKA_SSL_CHECK_HOSTNAME",
}
