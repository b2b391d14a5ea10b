"""The HTTP channels' POST through pyreqwest (Rust reqwest/hyper), SSRF-pinned like the aiohttp path.

Why: measured on the 2-core dev machine against the same sink (``alertstream bench --part
delivery``: ``transport_reqwest_req_per_s`` beside ``raw_posts_per_s``), a POST through pyreqwest
costs about half the CPU of one through aiohttp (~150 vs ~300 µs), and the HTTP client was about
half of the deliver process's CPU per notification (docs/benchmarks.md, the e2e profile).

The SSRF rules are the same as :class:`alertstream.consumers.http.AiohttpTransport`'s:

* the URL's static refusal (an IP in any spelling, a refused scheme) is checked first;
* a host name is resolved by :class:`~alertstream.consumers.http.CheckedResolver`, which checks
  *every* answer (one refused answer refuses the name); the client that sends is built with that
  one checked address pinned (reqwest's ``resolve`` override is exclusive: it never asks DNS for
  that name), so there is no second lookup to rebind; answers are reused for ``DNS_TTL_S``;
* redirects are never followed, no proxy from the environment, no content decoding;
* the two transports (strict and ``allow_private``) are separate instances sharing nothing.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Mapping
from datetime import timedelta

import httpx
from multidict import CIMultiDict, CIMultiDictProxy
from pyreqwest import exceptions as rx
from pyreqwest.client import Client, ClientBuilder

from alertstream.consumers.http import MAX_RESPONSE_BYTES, Answer, CheckedResolver, checked_target
from alertstream.schemas.errors import PermanentDeliveryError, RetryableDeliveryError
from alertstream.schemas.ssrf import SsrfRefused, parse_ip

#: How long a checked DNS answer is used (aiohttp's ``ttl_dns_cache`` on the other path).
DNS_TTL_S = 30.0
#: Pinned clients kept (one per host, port, address and timeouts); the oldest goes beyond this.
MAX_CLIENTS = 256

ClientKey = tuple[str, int, str, float | None, float | None]
#: a 2xx answer's headers: nothing reads them (``failures.check_response`` needs them for 429/503 only)
_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
#: host -> its IP if it is one (pure; asked on every POST)
_literal = functools.lru_cache(maxsize=4096)(parse_ip)


def _certificate_problem(exc: rx.ConnectError) -> str | None:
    """The TLS verification failure among a connect error's causes (rustls: "invalid peer
    certificate: UnknownIssuer"), or None. Only that cause's text: the first cause names the URL,
    which can hold a secret."""
    details = getattr(exc, "details", None)
    causes = details.get("causes") if isinstance(details, dict) else None
    for cause in causes or []:
        message = str(cause.get("message", "")) if isinstance(cause, dict) else ""
        if "certificate" in message and "://" not in message:
            return f"the receiver's TLS certificate is not trusted ({message[:200]})"
    return None


class ReqwestTransport:
    def __init__(self, allow_private: bool, limit: int = 1000) -> None:
        self.allow_private = allow_private
        self._limit = limit
        self._resolver = CheckedResolver(allow_private)
        self._dns: dict[tuple[str, int], tuple[float, str]] = {}
        self._clients: dict[ClientKey, Client] = {}

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], connect: float | None, read: float | None
    ) -> Answer:
        """POST ``body`` to ``url`` (SSRF-checked, pinned, never redirected). Raises what
        :meth:`alertstream.consumers.http.AiohttpTransport.post` raises (the same classification)."""
        target = checked_target(url, self.allow_private)
        host, port = target.raw_host, target.port
        if not host or port is None or target.scheme not in ("http", "https"):
            raise PermanentDeliveryError("invalid_address", "invalid URL")
        client = self._client(host, port, await self._address(host, port), connect, read)
        request = client.post(url).headers(dict(headers)).body_bytes(body)
        total = (connect or 0) + (read or 0)
        if total:
            request = request.timeout(timedelta(seconds=total))
        try:
            async with request.build_streamed() as response:
                status = response.status
                answer = _NO_HEADERS
                if not 200 <= status < 300:
                    answer = CIMultiDictProxy(CIMultiDict((k, response.headers[k]) for k in response.headers))
                reader, size = response.body_reader, 0
                while size <= MAX_RESPONSE_BYTES and (chunk := await reader.read_chunk()) is not None:
                    size += len(chunk)  # read (and drop) the answer: the connection goes back to the pool
        except rx.ConnectTimeoutError:
            raise httpx.ConnectTimeout("connect timeout") from None
        except rx.RequestTimeoutError:
            raise httpx.ReadTimeout("read timeout") from None
        except rx.ConnectError as exc:
            problem = _certificate_problem(exc)
            if problem is not None:
                raise RetryableDeliveryError("tls_error", problem) from None
            raise httpx.ConnectError("ConnectError") from None
        except (rx.BuilderError, rx.RedirectError):
            raise PermanentDeliveryError("invalid_address", "invalid URL") from None
        except rx.PyreqwestError as exc:
            raise httpx.TransportError(type(exc).__name__) from None
        return Answer(status, answer)

    async def _address(self, host: str, port: int) -> str:
        """The one address to connect to: the IP itself, or the first of the checked answers."""
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        literal = _literal(host)
        if literal is not None:
            return str(literal)  # checked by the static refusal
        now = time.monotonic()
        cached = self._dns.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            answers = await self._resolver.resolve(host, port, socket.AF_UNSPEC)
        except SsrfRefused as exc:
            raise PermanentDeliveryError("ssrf_refused", exc.reason) from None
        except OSError:
            raise RetryableDeliveryError("dns_failure", "cannot resolve host") from None
        if not answers:
            raise RetryableDeliveryError("dns_failure", "cannot resolve host")
        address = answers[0]["host"]
        if len(self._dns) >= MAX_CLIENTS:
            self._dns.clear()
        self._dns[(host, port)] = (now + DNS_TTL_S, address)
        return address

    def _client(self, host: str, port: int, address: str, connect: float | None, read: float | None) -> Client:
        key: ClientKey = (host, port, address, connect, read)
        client = self._clients.get(key)
        if client is None:
            builder = (
                ClientBuilder()
                .max_connections(self._limit)
                .follow_redirects(False)
                .no_proxy()
                .gzip(False)
                .brotli(False)
                .zstd(False)
                .deflate(False)
            )
            if _literal(host) is None:
                builder = builder.resolve(host, address, port)  # exclusive: reqwest asks no DNS for it
            if connect:
                builder = builder.connect_timeout(timedelta(seconds=connect))
            if read:
                builder = builder.read_timeout(timedelta(seconds=read))
            if len(self._clients) >= MAX_CLIENTS:
                self._clients.pop(next(iter(self._clients)))  # in-flight requests keep their client
            client = self._clients[key] = builder.build()
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
