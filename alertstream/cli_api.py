"""CLI commands of the API stage (`api`, `api-keys`), registered by alertstream.cli."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from alertstream.runtime.settings import Settings

app = typer.Typer(no_args_is_help=True)
keys_app = typer.Typer(no_args_is_help=True, help="API keys of `alertstream api` (hashed at rest).")
app.add_typer(keys_app, name="api-keys")


def _migrated(settings: Settings) -> str:
    from alertstream.consumers.db import migrate

    dsn = settings.require_database()
    migrate(dsn)  # idempotent, read-only when up to date (also as the application's role)
    return dsn


@app.command("api")
def api() -> None:
    """The HTTP API: alerts, notifications, audit trail, explanations, stats (OpenAPI at /openapi.json)."""
    from alertstream.api.lifecycle_bus import BusConfig
    from alertstream.api.server import serve
    from alertstream.schemas.config import load_config

    settings = Settings()
    bus = (
        BusConfig(settings.kafka_bootstrap, settings.topics, load_config(settings.config))
        if settings.kafka_bootstrap
        else None  # without a broker the lifecycle's write endpoints answer 503
    )
    serve(
        _migrated(settings),
        settings.api_host,
        settings.api_port,
        rate_limit=settings.api_rate_limit,
        max_request_bytes=settings.api_max_request_bytes,
        bus=bus,
    )


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="what the key is for (shown in listings and the audit log)")],
    tenant: Annotated[str | None, typer.Option(help="the one tenant the key may see")] = None,
    admin: Annotated[bool, typer.Option(help="a key that sees every tenant")] = False,
) -> None:
    """Create a key and print it once; only its SHA-256 is stored."""
    from alertstream.api.keys import create_key

    if (tenant is None) != admin:
        typer.echo("error: give exactly one of --tenant NAME and --admin", err=True)
        raise typer.Exit(2)
    try:
        new = create_key(_migrated(Settings()), tenant, name)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(new.key)
    typer.echo(
        f"key id {new.key_id} ({'admin' if tenant is None else 'tenant ' + tenant}): store the key now,", err=True
    )
    typer.echo("it is not shown again", err=True)


@keys_app.command("list")
def keys_list() -> None:
    """One JSON line per key (id, scope, tenant, name, created, revoked); never the key itself."""
    from alertstream.api.keys import list_keys

    for row in list_keys(_migrated(Settings())):
        typer.echo(json.dumps(row.summary()))


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key id (the part after ask_)")]) -> None:
    """Revoke a key: refused by every API process within 5 s."""
    from alertstream.api.keys import revoke_key

    if not revoke_key(_migrated(Settings()), key_id):
        typer.echo(f"error: no active key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
