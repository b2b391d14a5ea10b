"""Failure → bounded reason: the one place that decides retryable vs permanent.

Reasons are a closed set (:data:`REASONS`): they become the ``reason`` header on retry/DLQ
messages, the DeliveryTask ``last_reason`` and a metric label. Details never carry secrets.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Protocol

import httpx

from alertstream.schemas.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError

REASONS = (
    # retryable
    "http_5xx",
    "rate_limited",
    "http_timeout_status",
    "timeout",
    "connect_error",
    "tls_error",  # the receiver's certificate is not trusted (a private CA missing from the trust store)
    "dns_failure",
    "transport_error",
    "smtp_transient",
    "circuit_open",
    "receiver_busy",
    "config_behind",  # routed to a receiver from a config version this process has not read yet
    "internal",  # an unexpected exception in a channel: retried, so a bug cannot silently drop an alert
    # permanent
    "http_4xx",
    "http_3xx",
    "gone",
    "receiver_disabled",
    "ssrf_refused",
    "invalid_address",
    "bad_recipient",
    "smtp_permanent",
    "unknown_receiver",
    "missing_secret",
    "payload_too_large",
    "undecodable",
    "invalid_task",  # a retry-tier record that decodes but is not a task this group may act on
    "too_large",  # a record over topics.max_message_bytes: set aside in the DLQ by reference
    # not a failure: a note on a `sent` outcome
    "recipients_refused",  # e-mail accepted for some recipients and refused for others
)


def parse_retry_after(value: str | None, now: float | None = None, cap: float = 3600.0) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), capped; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return min(max(delta, 0.0), cap)


class Response(Protocol):
    """What a verdict needs of an HTTP answer (an ``httpx.Response`` or ``consumers.http.Answer``)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def check_response(response: Response, max_retry_after: float = 3600.0) -> None:
    """Raise the right DeliveryError for a non-2xx response; return for 2xx."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if code == 410:
        raise PermanentDeliveryError("gone", "receiver answered 410 Gone: disabled", code)
    if code == 429 or code == 503:
        after = parse_retry_after(response.headers.get("retry-after"), cap=max_retry_after)
        reason = "rate_limited" if code == 429 else "http_5xx"
        raise RetryableDeliveryError(reason, f"HTTP {code}", code, retry_after=after)
    if code == 408:
        raise RetryableDeliveryError("http_timeout_status", "HTTP 408", code)
    if code >= 500:
        raise RetryableDeliveryError("http_5xx", f"HTTP {code}", code)
    if 300 <= code < 400:
        raise PermanentDeliveryError("http_3xx", f"HTTP {code}: redirects are not followed", code)
    if code == 413:
        raise PermanentDeliveryError("payload_too_large", "HTTP 413", code)
    raise PermanentDeliveryError("http_4xx", f"HTTP {code}", code)


def from_exception(exc: BaseException) -> DeliveryError:
    """Any exception raised while sending → a DeliveryError (unknown ones are retryable ``internal``)."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return RetryableDeliveryError("timeout", type(exc).__name__)
    if isinstance(exc, httpx.ConnectError):
        return RetryableDeliveryError("connect_error", type(exc).__name__)
    if isinstance(exc, httpx.TransportError):
        return RetryableDeliveryError("transport_error", type(exc).__name__)
    return RetryableDeliveryError("internal", type(exc).__name__)
