from __future__ import annotations

import httpx
import pytest

from alertstream.consumers.failures import REASONS, check_response, from_exception, parse_retry_after
from alertstream.schemas.errors import PermanentDeliveryError, RetryableDeliveryError


async def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.MockTransport(lambda _r: httpx.Response(status, headers=headers or {}))
    async with httpx.AsyncClient(transport=transport) as client:
        return await client.post("https://example.com/hook", content=b"{}")


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_2xx_is_success(status: int) -> None:
    check_response(await _response(status))


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        (500, RetryableDeliveryError, "http_5xx"),
        (502, RetryableDeliveryError, "http_5xx"),
        (503, RetryableDeliveryError, "http_5xx"),
        (429, RetryableDeliveryError, "rate_limited"),
        (408, RetryableDeliveryError, "http_timeout_status"),
        (400, PermanentDeliveryError, "http_4xx"),
        (401, PermanentDeliveryError, "http_4xx"),
        (404, PermanentDeliveryError, "http_4xx"),
        (410, PermanentDeliveryError, "gone"),
        (413, PermanentDeliveryError, "payload_too_large"),
        (301, PermanentDeliveryError, "http_3xx"),
        (302, PermanentDeliveryError, "http_3xx"),
    ],
)
async def test_status_classification(status: int, kind: type[Exception], reason: str) -> None:
    with pytest.raises(kind) as err:
        check_response(await _response(status))
    assert err.value.reason == reason  # type: ignore[attr-defined]
    assert err.value.status_code == status  # type: ignore[attr-defined]
    assert reason in REASONS


async def test_429_and_503_honour_retry_after() -> None:
    with pytest.raises(RetryableDeliveryError) as err:
        check_response(await _response(429, {"Retry-After": "42"}))
    assert err.value.retry_after == 42.0
    with pytest.raises(RetryableDeliveryError) as err:
        check_response(await _response(503, {"Retry-After": "7"}))
    assert err.value.retry_after == 7.0
    with pytest.raises(RetryableDeliveryError) as err:
        check_response(await _response(503))
    assert err.value.retry_after is None


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("999999", cap=3600) == 3600.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412440.0) == 40.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_transport_errors_are_retryable() -> None:
    def boom(_r: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    async with httpx.AsyncClient(transport=httpx.MockTransport(boom)) as client:
        with pytest.raises(httpx.ReadTimeout) as exc:
            await client.get("https://example.com")
    assert from_exception(exc.value).reason == "timeout"
    assert from_exception(httpx.ConnectError("refused")).reason == "connect_error"
    assert from_exception(httpx.RemoteProtocolError("bad")).reason == "transport_error"
    assert isinstance(from_exception(ValueError("x")), RetryableDeliveryError)
    assert from_exception(ValueError("x")).reason == "internal"
