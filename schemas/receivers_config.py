"""Config models owned by the consumers (consumers/): receivers and delivery/retry settings.

A receiver is one destination of one channel, named by the routes on an alert
(``Alert.routes[i].receiver``). Secrets are *referenced* — ``secret_env``/``secret_file`` for
webhook signing secrets (several for rotation), ``url_env`` for Slack's secret webhook URL,
``routing_key_env`` for PagerDuty, ``password_env`` for SMTP — and never written in the file.
Each channel's required fields are checked at load, with the receiver's path in the error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from alertstream.schemas.ssrf import url_problem

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SmtpSettings(_Strict):
    """SMTP server of an ``email`` receiver. ``tls`` = implicit TLS (465), ``starttls`` = upgrade."""

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    tls: bool = False
    username: str | None = Field(default=None, max_length=256)
    password_env: str | None = Field(default=None, pattern=_ENV_NAME)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: PEM bundle of CAs to trust for the server's certificate (a private CA); default: system CAs.
    ca_file: str | None = Field(default=None, max_length=4096)

    @model_validator(mode="after")
    def _one_tls_mode(self) -> SmtpSettings:
        if self.tls and self.starttls:
            raise ValueError("choose one of tls (implicit TLS) and starttls")
        if self.password_env and not self.username:
            raise ValueError("password_env needs a username")
        return self


class Receiver(_Strict):
    """One destination. Fields not used by ``channel`` must be left out."""

    name: str = Field(min_length=1, max_length=128)
    channel: Literal["webhook", "slack", "pagerduty", "email"]
    # -- HTTP channels (webhook, slack, pagerduty) -----------------------------------------------
    # allow_private comes first: the url validator reads it.
    allow_private: bool = Field(default=False, description="allow loopback/private targets (tests, dev sink)")
    url: str | None = Field(default=None, max_length=2048, description="http(s) URL; PagerDuty defaults to v2")
    url_env: str | None = Field(default=None, pattern=_ENV_NAME, description="URL held in an env var (Slack)")
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # -- webhook signing (Standard Webhooks): several secrets = several signatures (rotation) ---
    secret_env: list[str] = Field(default_factory=list, max_length=4)
    secret_file: list[str] = Field(default_factory=list, max_length=4)
    # -- slack ------------------------------------------------------------------------------------
    link_template: str | None = Field(default=None, max_length=1024, description="$fingerprint etc. → a link")
    # -- pagerduty --------------------------------------------------------------------------------
    routing_key_env: str | None = Field(default=None, pattern=_ENV_NAME)
    # -- email ------------------------------------------------------------------------------------
    smtp: SmtpSettings | None = None
    from_: str | None = Field(default=None, alias="from", max_length=320)
    to: list[str] = Field(default_factory=list)
    subject_template: str = Field(default="[$severity] $status: $summary", max_length=512)
    body_template: str = Field(
        default=(
            "$summary\n\nseverity: $severity\nstatus: $status\ntenant: $tenant\nrule: $rule_id\n"
            "entity: $entity\nvalue: $value (threshold $threshold)\noccurrences: $occurrence_count\n"
            "first seen: $first_seen\nlast seen: $last_seen\nfingerprint: $fingerprint\n\ndetails:\n$details\n"
        ),
        max_length=16384,
    )

    @field_validator("url")
    @classmethod
    def _url_allowed(cls, url: str | None, info: ValidationInfo) -> str | None:
        """The delivery's own static SSRF rule (:func:`alertstream.schemas.ssrf.static_refusal`), at load."""
        if url is None:
            return None
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("url must be http:// or https://")
        problem = url_problem(url, bool(info.data.get("allow_private")))
        if problem is not None:
            raise ValueError(problem)
        return url

    @model_validator(mode="after")
    def _channel_fields(self) -> Receiver:
        http_only = ("url", "url_env", "secret_env", "secret_file", "link_template", "routing_key_env")
        email_only = ("smtp", "from_", "to")
        used = {k for k in self.model_fields_set}
        c = self.channel
        if c == "email":
            wrong = sorted(used & set(http_only) | (used & {"allow_private"}))
            if wrong:
                raise ValueError(f"{', '.join(wrong)} not used by an email receiver")
            if self.smtp is None or not self.from_ or not self.to:
                raise ValueError("an email receiver needs smtp, from and to")
            return self
        wrong = sorted(used & set(email_only))
        if wrong:
            raise ValueError(f"{', '.join(w.rstrip('_') for w in wrong)} not used by a {c} receiver")
        if self.url and self.url_env:
            raise ValueError("give url or url_env, not both")
        if c in ("webhook", "slack") and not (self.url or self.url_env):
            raise ValueError(f"a {c} receiver needs url or url_env")
        if c == "pagerduty" and not self.routing_key_env:
            raise ValueError("a pagerduty receiver needs routing_key_env")
        if c != "webhook" and (self.secret_env or self.secret_file):
            raise ValueError("secret_env/secret_file (signing secrets) are for webhook receivers")
        if c != "pagerduty" and self.routing_key_env:
            raise ValueError("routing_key_env is for pagerduty receivers")
        return self


def url_env_problems(receivers: Sequence[Receiver], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """The receivers whose ``url_env`` variable is set to a URL the SSRF policy refuses, as
    (path, problem) — the check ``config validate`` and a starting deliver process apply to
    values the file cannot show. Unset variables are not problems here (a missing secret only
    makes that receiver unusable)."""
    problems = []
    for i, receiver in enumerate(receivers):
        value = environ.get(receiver.url_env) if receiver.url_env else None
        if value:
            problem = url_env_problem(receiver, value)
            if problem is not None:
                problems.append((f"receivers[{i}].url_env", problem))
    return problems


def url_env_problem(receiver: Receiver, value: str) -> str | None:
    """Why the URL ``value`` read from ``receiver.url_env`` is refused, or None."""
    if not value.lower().startswith(("http://", "https://")):
        return f"{receiver.url_env}: url must be http:// or https://"
    problem = url_problem(value, receiver.allow_private)
    return None if problem is None else f"{receiver.url_env}: {problem}"


class DeliverySection(_Strict):
    #: Delay of each retry tier in seconds; tier n is topic ``alerts.<channel>.retry.<n>``.
    retry_delays_seconds: list[float] = Field(
        default_factory=lambda: [10.0, 60.0, 600.0, 3600.0], min_length=1, max_length=10
    )
    #: Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter].
    jitter: float = Field(default=0.2, ge=0, le=0.5)
    #: Longest Retry-After honoured (a receiver cannot park a task for longer).
    max_retry_after_seconds: float = Field(default=3600.0, gt=0)
    #: Circuit breaker per receiver: open after this many consecutive failures ...
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    #: ... for this long, then let one probe through (half-open).
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: Tasks in flight per process, and per receiver (a slow receiver cannot take every slot).
    max_in_flight: int = Field(default=2000, ge=1, le=100_000)
    max_in_flight_per_receiver: int = Field(default=256, ge=1, le=100_000)
    #: How often finished offsets are committed (a crash re-reads at most this much; the ledger
    #: keeps those re-reads from notifying again).
    commit_interval_seconds: float = Field(default=0.2, gt=0, le=60)
    #: Seconds SIGTERM waits for in-flight deliveries before handing them back uncommitted.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300)
