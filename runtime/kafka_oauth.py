"""SASL/OAUTHBEARER for the aiokafka clients (the worker): the OAuth 2.0 client-credentials grant.

librdkafka does this itself (``sasl.oauthbearer.method=oidc``); aiokafka only asks a token
provider for a token. This one asks the same token endpoint, with the same client id, secret and
scope, so one set of settings serves both clients. A token is reused until 30 s before it expires
(``expires_in``; 5 minutes when the endpoint does not say), and one refresh serves every waiting
connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from aiokafka.abc import AbstractTokenProvider
from pydantic import SecretStr

#: Refresh this long before the token's expiry; default lifetime when the endpoint gives none.
REFRESH_MARGIN_S = 30.0
DEFAULT_LIFETIME_S = 300.0


class TokenEndpointError(RuntimeError):
    """The token endpoint refused or did not answer (the message never carries the secret)."""


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | None = None,
        *,
        ca_file: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url, self.client_id, self.scope = url, client_id, scope
        self._secret = client_secret
        self._verify: Any = ca_file or True
        self._timeout = timeout
        self._token: str | None = None
        self._expires = 0.0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenProvider(url={self.url!r}, client_id={self.client_id!r})"

    async def token(self) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires - REFRESH_MARGIN_S:
                self._token, lifetime = await self._fetch()
                self._expires = time.monotonic() + lifetime
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        auth = httpx.BasicAuth(self.client_id, self._secret.get_secret_value())
        try:
            async with httpx.AsyncClient(verify=self._verify, timeout=self._timeout) as client:
                response = await client.post(self.url, data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise TokenEndpointError(f"token endpoint {self.url} unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise TokenEndpointError(f"token endpoint {self.url} answered {response.status_code}")
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or DEFAULT_LIFETIME_S)
        except (ValueError, KeyError, TypeError):
            raise TokenEndpointError(f"token endpoint {self.url} gave no access_token") from None
        return token, lifetime
