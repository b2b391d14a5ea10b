"""API keys: generation, parsing and hashing (pure), and the key table (`alertstream api-keys`).

A key is ``ask_<key_id>_<secret>``: ``key_id`` (12 base32 characters) is public — it names the key
in listings, logs and the audit log — and ``secret`` is 32 random bytes (base64url). Only the
SHA-256 of the whole key is stored: with 256 bits of entropy a plain hash is enough (no slow KDF
is needed against guessing), and a stolen table holds no usable key. A key is scoped to one tenant
or is an admin key (``tenant`` NULL) that sees every tenant.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

PREFIX = "ask_"
_KEY = re.compile(r"^ask_([a-z2-7]{12})_([A-Za-z0-9_-]{43})\Z")
_TENANT = re.compile(r"^[A-Za-z0-9._:@-]{1,128}\Z")  # \Z: `$` also matches before a final newline


@dataclass(frozen=True)
class NewKey:
    key_id: str
    key: str  # shown once, never stored

    @property
    def digest(self) -> bytes:
        return digest(self.key)


def generate() -> NewKey:
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:12]
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return NewKey(key_id, f"{PREFIX}{key_id}_{secret}")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse_key_id(key: str) -> str | None:
    """The key id of a well-formed key, else None (a malformed key never reaches the database)."""
    match = _KEY.match(key)
    return match.group(1) if match else None


def matches(key: str, stored_digest: bytes) -> bool:
    return hmac.compare_digest(digest(key), stored_digest)


def valid_tenant(tenant: str) -> bool:
    return bool(_TENANT.match(tenant))


@dataclass(frozen=True)
class KeyRow:
    key_id: str
    tenant: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None

    def summary(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "scope": "admin" if self.tenant is None else "tenant",
            "tenant": self.tenant,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _audit(
    conn: psycopg.Connection[Any], action: str, key_id: str, tenant: str | None, details: dict[str, Any]
) -> None:
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, reason, tenant, details) VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
        (datetime.now(UTC), f"cli:{_operator()}", action, None, tenant, json.dumps({"key_id": key_id, **details})),
    )


def _operator() -> str:
    try:
        return getpass.getuser()[:64]
    except (KeyError, OSError):
        return "unknown"


def create_key(dsn: str, tenant: str | None, name: str) -> NewKey:
    """Store a new key (its digest) and audit it; the returned key is the only copy."""
    if tenant is not None and not valid_tenant(tenant):
        raise ValueError(f"invalid tenant {tenant!r}: 1-128 of A-Z a-z 0-9 . _ : @ -")
    new = generate()
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO api_keys (key_id, secret_sha256, tenant, name) VALUES (%s, %s, %s, %s)",
            (new.key_id, new.digest, tenant, name),
        )
        _audit(
            conn,
            "api_key_created",
            new.key_id,
            tenant,
            {"name": name, "scope": "admin" if tenant is None else "tenant"},
        )
    return new


def list_keys(dsn: str) -> list[KeyRow]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT key_id, tenant, name, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id"
        ).fetchall()
    return [KeyRow(*r) for r in rows]


def revoke_key(dsn: str, key_id: str) -> bool:
    """Revoke ``key_id``; False when there is no such unrevoked key."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        row = conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL RETURNING tenant",
            (key_id,),
        ).fetchone()
        if row is None:
            return False
        _audit(conn, "api_key_revoked", key_id, row[0], {})
    return True
