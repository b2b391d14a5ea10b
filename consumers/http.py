"""The HTTP client of every HTTP channel: aiohttp with SSRF pinning (and httpx's transport API over it).

Why aiohttp: measured on the 2-core dev machine, httpx's default transport topped out at a few
hundred requests/s under concurrency while aiohttp did thousands (``alertstream bench``,
``delivery.transport_*``; docs/benchmarks.md), and aiohttp lets us plug in a resolver — which is
where the SSRF defence lives:

* the URL's host, if it is an IP in any spelling, is checked before anything else;
* otherwise :class:`CheckedResolver` resolves it and checks *every* A/AAAA answer; one refused
  answer refuses the whole name (no racing to the "good" address); aiohttp then connects to exactly
  the addresses the resolver returned, so there is no second lookup to rebind;
* redirects are never followed (a 3xx is a permanent failure);
* private targets need ``allow_private`` on the receiver; such requests use a *separate* connector
  (own DNS cache and connection pool), so a permissive receiver can never lend a checked-private
  connection or cache entry to a strict one.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDictProxy

from alertstream.schemas.errors import PermanentDeliveryError, RetryableDeliveryError
from alertstream.schemas.ssrf import SsrfRefused, check_ip, check_url, parse_ip, static_refusal

if TYPE_CHECKING:
    from alertstream.consumers.reqwest_transport import ReqwestTransport

MAX_RESPONSE_BYTES = 64 * 1024


@functools.lru_cache(maxsize=4096)
def _yarl(url: str) -> yarl.URL:
    return yarl.URL(url, encoded=True)  # httpx already normalised it; do not parse it twice


class CheckedResolver(AbstractResolver):
    """Resolves with getaddrinfo and refuses the name if any answer is not allowed."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        literal = parse_ip(host)
        if literal is not None:  # a legacy spelling aiohttp did not recognise as an IP
            check_ip(literal, self.allow_private)
            infos: list[tuple[int, str]] = [(socket.AF_INET if literal.version == 4 else socket.AF_INET6, str(literal))]
        else:
            infos = []
            loop = asyncio.get_running_loop()
            try:
                raw = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
            except socket.gaierror as exc:
                raise OSError(f"cannot resolve host: {exc.strerror}") from None
            for family_, _, _, _, sockaddr in raw:
                ip = parse_ip(str(sockaddr[0]))
                if ip is None:
                    raise SsrfRefused("reserved", "resolver returned a non-IP")
                check_ip(ip, self.allow_private)  # every answer, before any connection
                infos.append((int(family_), str(ip)))
        seen: set[str] = set()
        out: list[ResolveResult] = []
        for fam, ip_text in infos:
            if ip_text in seen:
                continue
            seen.add(ip_text)
            out.append(
                ResolveResult(hostname=host, host=ip_text, port=port, family=fam, proto=0, flags=socket.AI_NUMERICHOST)
            )
        return out

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Answer:
    """A receiver's answer: what :func:`alertstream.consumers.failures.check_response` reads."""

    status_code: int
    #: case-insensitive (``retry-after`` finds ``Retry-After``)
    headers: Mapping[str, str]


#: the static part of the SSRF rule is a pure function of the URL: checked once per receiver URL
_static_refusal = functools.lru_cache(maxsize=4096)(static_refusal)


@functools.lru_cache(maxsize=64)
def _timeout(connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=(connect or 0) + (read or 0) or None, sock_connect=connect, sock_read=read)


@functools.lru_cache(maxsize=4096)
def _receiver_url(url: str) -> yarl.URL:
    """A receiver URL parsed once (not once per delivery); ValueError when it is not a URL."""
    return yarl.URL(url)


def checked_target(url: str, allow_private: bool) -> yarl.URL:
    """``url`` parsed, once its static SSRF rule passed: PermanentDeliveryError ``ssrf_refused``
    or ``invalid_address`` otherwise (the first step of every transport's POST)."""
    refused = _static_refusal(url, allow_private)
    if refused is not None:
        raise PermanentDeliveryError("ssrf_refused", refused)
    try:
        return _receiver_url(url)
    except (ValueError, TypeError):
        raise PermanentDeliveryError("invalid_address", "invalid URL") from None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (SSRF-checked resolver, no redirects); :meth:`post` is the channels' path,
    :meth:`handle_async_request` the same behind httpx's transport API (the bench compares it with
    httpx's own transport)."""

    def __init__(self, allow_private: bool, limit: int = 1000, limit_per_host: int = 256) -> None:
        self.allow_private = allow_private
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=CheckedResolver(self.allow_private),
                # the trust store as this process finds it now (SSL_CERT_FILE / SSL_CERT_DIR, else
                # the system's), as pyreqwest reads it: not aiohttp's context made at its import
                ssl=ssl.create_default_context(),
                limit=self._limit,
                limit_per_host=self._limit_per_host,
                ttl_dns_cache=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",), trust_env=False
            )
        return self._session

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], connect: float | None, read: float | None
    ) -> Answer:
        """POST ``body`` to ``url`` (SSRF-checked, never redirected). Raises PermanentDeliveryError
        (ssrf_refused, invalid_address), RetryableDeliveryError (dns_failure) or httpx's transport
        errors (connect, timeout, transport), which :func:`~alertstream.consumers.failures.from_exception`
        classifies."""
        target = checked_target(url, self.allow_private)
        status, answer_headers, _ = await self._request("POST", target, body, headers, connect, read)
        return Answer(status, answer_headers)

    async def _request(
        self,
        method: str,
        target: yarl.URL,
        body: bytes,
        headers: Mapping[str, str] | list[tuple[str, str]],
        connect: float | None,
        read: float | None,
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        session = self._get_session()
        try:
            async with session.request(
                method, target, data=body, headers=headers, allow_redirects=False, timeout=_timeout(connect, read)
            ) as resp:
                content = await resp.content.read(MAX_RESPONSE_BYTES)
                return resp.status, resp.headers, content
        except aiohttp.ClientConnectorCertificateError as exc:
            why = getattr(exc.certificate_error, "verify_message", "") or type(exc.certificate_error).__name__
            raise RetryableDeliveryError(
                "tls_error", f"the receiver's TLS certificate is not trusted ({why})"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, SsrfRefused):
                raise PermanentDeliveryError("ssrf_refused", exc.os_error.reason) from None
            if isinstance(exc, aiohttp.ClientConnectorDNSError):
                raise RetryableDeliveryError("dns_failure", "cannot resolve host") from None
            raise httpx.ConnectError(type(exc).__name__) from None
        except SsrfRefused as exc:
            raise PermanentDeliveryError("ssrf_refused", exc.reason) from None
        except aiohttp.ConnectionTimeoutError:
            raise httpx.ConnectTimeout("connect timeout") from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise httpx.ReadTimeout("read timeout") from None
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(type(exc).__name__) from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        refused = static_refusal(url, self.allow_private)
        if refused is not None:
            raise PermanentDeliveryError("ssrf_refused", refused)
        t: dict[str, Any] = request.extensions.get("timeout") or {}
        body = await request.aread()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        status, answer_headers, content = await self._request(
            request.method, _yarl(url), body, headers, t.get("connect"), t.get("read")
        )
        return httpx.Response(status, headers=list(answer_headers.items()), content=content, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpClients:
    """Two transports — strict (default) and ``allow_private`` — sharing nothing.

    :meth:`post` is what the channels call. ``transport`` picks the client: ``reqwest`` (the
    channels' default: :mod:`alertstream.consumers.reqwest_transport`, measured about half the CPU
    per POST of aiohttp here), ``aiohttp`` (no httpx ``Request``/``Response`` built per delivery),
    or ``httpx``'s own transport (the bench's comparison only). :meth:`send` takes a prepared
    :class:`httpx.Request` through an httpx transport (``aiohttp``/``httpx``: the bench).
    """

    def __init__(self, transport: str = "reqwest", limit: int = 1000) -> None:
        self.transport = transport
        self._transports: dict[bool, httpx.AsyncBaseTransport | ReqwestTransport] = {}
        self._limit = limit

    def _transport(self, allow_private: bool) -> httpx.AsyncBaseTransport | ReqwestTransport:
        inner = self._transports.get(allow_private)
        if inner is None:
            if self.transport == "httpx":
                inner = PreflightTransport(allow_private, self._limit)
            elif self.transport == "reqwest":
                from alertstream.consumers.reqwest_transport import ReqwestTransport

                inner = ReqwestTransport(allow_private, limit=self._limit)
            else:
                inner = AiohttpTransport(allow_private, limit=self._limit)
            self._transports[allow_private] = inner
        return inner

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        allow_private: bool,
        connect: float | None = None,
        read: float | None = None,
    ) -> Answer:
        refused = _static_refusal(url, allow_private)  # before httpx parses odd IP spellings as "invalid"
        if refused is not None:
            raise PermanentDeliveryError("ssrf_refused", refused)
        inner = self._transport(allow_private)
        if not isinstance(inner, httpx.AsyncBaseTransport) or isinstance(inner, AiohttpTransport):
            return await inner.post(url, body, headers, connect, read)
        try:
            request = httpx.Request(
                "POST", url, content=body, headers=headers, extensions={"timeout": {"connect": connect, "read": read}}
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise PermanentDeliveryError("invalid_address", "invalid URL") from None
        response = await self.send(request, allow_private)
        return Answer(response.status_code, response.headers)

    async def send(self, request: httpx.Request, allow_private: bool) -> httpx.Response:
        inner = self._transport(allow_private)
        if not isinstance(inner, httpx.AsyncBaseTransport):
            raise TypeError("send() needs an httpx transport (aiohttp or httpx)")
        response = await inner.handle_async_request(request)
        await response.aread()
        return response

    async def aclose(self) -> None:
        for inner in self._transports.values():
            await inner.aclose()
        self._transports.clear()


class PreflightTransport(httpx.AsyncBaseTransport):
    """httpx's default transport with a resolve-and-check before each request.

    Kept only to measure it against :class:`AiohttpTransport` (``delivery.transport_httpx_req_per_s``
    in ``alertstream bench``): it cannot pin the connection to the checked address (httpcore
    resolves again), so it is weaker against DNS rebinding and is not used by the delivery
    processes.
    """

    def __init__(self, allow_private: bool, limit: int) -> None:
        self._resolver = CheckedResolver(allow_private)
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=limit), retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            _, host, port = check_url(str(request.url))
            await self._resolver.resolve(host, port, socket.AF_UNSPEC)
        except SsrfRefused as exc:
            raise PermanentDeliveryError("ssrf_refused", exc.reason) from None
        except OSError:
            raise RetryableDeliveryError("dns_failure", "cannot resolve host") from None
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
