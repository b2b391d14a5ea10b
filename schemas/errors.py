"""The one error hierarchy of alertstream.

Every error a caller is expected to handle derives from :class:`AlertstreamError`; each carries a
*bounded* ``reason`` string that is safe to use as a Prometheus label and never holds secrets::

    AlertstreamError
    ├── CodecError            bytes that are not a decodable alertstream record
    ├── SchemaRegistryUnavailable   the registry cannot answer now: NOT bad input, retry the same message
    ├── ValidationError       a record that decodes but breaks the contract's semantics
    ├── ConfigError           a config file that is unreadable or invalid (file, path, problem)
    └── DeliveryError         a channel could not deliver one task
        ├── RetryableDeliveryError   try again later (5xx, timeout, 429 with Retry-After)
        └── PermanentDeliveryError   retrying cannot help (4xx, SSRF refusal, bad address)

Bad input is data, not a crash: stream and consumer loops catch exactly these and route the
input to ``events.invalid`` or a channel's DLQ with ``reason`` in the headers. The one exception
is :class:`SchemaRegistryUnavailable`: the input may be perfectly good, so consumers back off and
retry the same message (never invalid, never dead-lettered, never skipped).
"""

from __future__ import annotations


class AlertstreamError(Exception):
    """Base of every expected alertstream failure."""

    reason: str = "error"

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class CodecError(AlertstreamError):
    """Bytes that cannot be decoded. ``reason`` is one of :data:`CODEC_REASONS`."""


#: Every reason a :class:`CodecError` can carry.
CODEC_REASONS = (
    "bad_magic",
    "unknown_schema",
    "truncated",
    "schema_mismatch",
    "too_large",
    "encode_failed",
    "bad_text",  # a string in the body is not UTF-8 (e.g. an encoded lone surrogate)
)


class SchemaRegistryUnavailable(AlertstreamError):
    """The schema registry did not answer a lookup or a registration (connection, timeout, 5xx,
    auth): deliberately *not* a :class:`CodecError`. ``detail`` is bounded and never holds the
    registry URL or credentials. A 404 for a schema id is not this: that id is ``unknown_schema``."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("schema_registry_unavailable", detail)


class ValidationError(AlertstreamError):
    """A record that breaks the contract: missing/mistyped field, NaN, empty tenant, far future.

    ``path`` names the offending field (``labels.host``) so a producer can fix its input.
    """

    def __init__(self, reason: str, detail: str = "", path: str = "") -> None:
        self.path = path
        super().__init__(reason, f"{path}: {detail}" if path else detail)


#: Every reason a :class:`ValidationError` can carry.
VALIDATION_REASONS = (
    "invalid_json",
    "not_an_object",
    "missing_field",
    "unknown_field",
    "wrong_type",
    "non_finite",
    "empty_field",
    "bad_timestamp",
    "future_timestamp",
    "too_large",
    "bad_text",  # NUL or a lone surrogate: text PostgreSQL or UTF-8 JSON cannot hold
    # received alerts (schemas.external_alerts)
    "bad_name",
    "bad_tenant",
    "missing_tenant",
    "wrong_tenant",
)


class ConfigError(AlertstreamError):
    """An invalid configuration. The message names the file, the path inside it and the problem."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {path or '<root>'}: {problem}" for path, problem in problems]
        super().__init__("invalid_config", "\n".join(lines))

    def __str__(self) -> str:
        return self.detail


class DeliveryError(AlertstreamError):
    """One delivery attempt failed. ``status_code`` is the HTTP/SMTP code when there was one."""

    def __init__(self, reason: str, detail: str = "", status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(reason, detail)


class RetryableDeliveryError(DeliveryError):
    """Worth retrying; ``retry_after`` (seconds) is the receiver's own hint, when it gave one."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(reason, detail, status_code)


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help; the task goes straight to the channel's DLQ."""
