"""Who is asking: every /api/v1 request carries an API key (``Authorization: Bearer <key>`` or
``X-API-Key: <key>``), checked against its SHA-256 in ``api_keys`` and limited per key.

Lookups are cached per key id for ``CACHE_SECONDS`` (also "no such key"), so a busy client costs
no query per request and a revoked key stops working within that time. A malformed key never
reaches the database; the rate limit is applied per presented key id before any lookup.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from alertstream.api import keys
from alertstream.api.problems import ApiProblem
from alertstream.api.rate_limit import RateLimiter

CACHE_SECONDS = 5.0
MAX_CACHED = 10_000

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer ask_<key_id>_<secret>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key, as an alternative header")


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant: str | None  # None = admin: every tenant

    @property
    def actor(self) -> str:
        return f"api-key:{self.key_id}"


@dataclass(frozen=True)
class _Cached:
    digest: bytes | None  # None = no such key, or revoked
    tenant: str | None
    until: float


class KeyCache:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._entries: dict[str, _Cached] = {}

    async def lookup(self, key_id: str, now: float) -> _Cached:
        entry = self._entries.get(key_id)
        if entry is not None and entry.until > now:
            return entry
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT secret_sha256, tenant FROM api_keys WHERE key_id = %s AND revoked_at IS NULL", (key_id,)
            )
            row = await cur.fetchone()
        if row is None:
            entry = _Cached(None, None, now + CACHE_SECONDS)
        else:
            entry = _Cached(bytes(row["secret_sha256"]), row["tenant"], now + CACHE_SECONDS)
        if len(self._entries) >= MAX_CACHED:
            self._entries.clear()
        self._entries[key_id] = entry
        return entry


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, "unauthorized", {"WWW-Authenticate": 'Bearer realm="alertstream"'})


async def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Principal:
    presented = bearer.credentials if bearer is not None else header
    if not presented:
        raise _unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key)")
    key_id = keys.parse_key_id(presented.strip())
    if key_id is None:
        raise _unauthorized("the API key is not valid")
    now = time.monotonic()
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.take(key_id, now)
    if wait > 0:
        raise ApiProblem(
            429,
            f"rate limit of {limiter.rate:g} requests/s exceeded",
            "rate-limited",
            {"Retry-After": str(math.ceil(wait))},
        )
    cache: KeyCache = request.app.state.keys
    entry = await cache.lookup(key_id, now)
    if entry.digest is None or not keys.matches(presented.strip(), entry.digest):
        raise _unauthorized("the API key is not valid")
    return Principal(key_id, entry.tenant)


Caller = Annotated[Principal, Depends(principal)]
