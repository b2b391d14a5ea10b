"""PostgreSQL: the tiny migration runner behind `alertstream db migrate`.

Migrations are ``consumers/migrations/NNN_name.sql``, applied in order, each once, each in its
own transaction, under an advisory lock so two processes migrating at once do not race. Tables go
to the first schema of the connection's search_path (``?options=-csearch_path%3Dname`` in the URL).
A migration is never edited once released: changes are a new file.

Roles: the migration role (whoever runs ``db migrate``) owns the tables; ``003`` creates the NOLOGIN
role ``alertstream_app`` and every migration grants it what the processes need (a new table needs
its GRANT in the same file). Processes call :func:`migrate` at start; when nothing is pending it
only reads ``alertstream_migrations``, so it also works as the application's role, which may not
create anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x616C657274  # "alert"


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS.glob("*.sql"))


class MissingMigrations(RuntimeError):
    """The installed package has no migration files: a broken build, never "up to date"."""


def migrate(dsn: str, files: list[Path] | None = None) -> list[str]:
    """Apply pending migrations; returns the versions applied now (empty when up to date).

    Raises :class:`MissingMigrations` when there are no migration files at all: a wheel built
    without them once reported "up to date" and created no tables.
    """
    files = migration_files() if files is None else files
    if not files:
        raise MissingMigrations(f"no migration files (*.sql) in {MIGRATIONS}: the installation is incomplete")
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=False) as conn:
        if not _pending(conn, [p.stem for p in files]):
            return []
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS alertstream_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        for path in files:
            version = path.stem
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                row = conn.execute("SELECT 1 FROM alertstream_migrations WHERE version = %s", (version,)).fetchone()
                if row is not None:
                    continue
                conn.execute(path.read_text(encoding="utf-8").encode())
                conn.execute("INSERT INTO alertstream_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
    return applied_now


def _pending(conn: psycopg.Connection[Any], versions: list[str]) -> bool:
    """Whether any of ``versions`` is not applied yet, without creating anything."""
    with conn.transaction():
        row = conn.execute("SELECT to_regclass('alertstream_migrations') IS NOT NULL").fetchone()
        if row is None or not row[0]:
            return True
        applied = {r[0] for r in conn.execute("SELECT version FROM alertstream_migrations")}
    return not set(versions) <= applied


def with_search_path(database_url: str, schema: str) -> str:
    """``database_url`` with ``schema`` first on the search_path (where migrations put the tables)."""
    parts = urlsplit(database_url)
    option = f"options=-csearch_path%3D{schema}"
    query = f"{parts.query}&{option}" if parts.query else option
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def create_schema(database_url: str, schema: str) -> str:
    """Create ``schema``, migrate it, and return the DSN that uses it: one database shared by
    isolated tests and benchmark runs."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    dsn = with_search_path(database_url, schema)
    migrate(dsn)
    return dsn


def drop_schema(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
