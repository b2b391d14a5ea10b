"""CLI commands of the consumer stage (`deliver`, `store`, `dlq`, `db`), registered by alertstream.cli."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from typing import Annotated

import typer

from alertstream.cli_setup import EXIT_USAGE, kafka_bootstrap, load_settings
from alertstream.cli_time import parse_instant
from alertstream.runtime import event_loop
from alertstream.runtime.codecs import build_codec
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import AlertstreamConfig, load_config
from alertstream.schemas.errors import ConfigError
from alertstream.schemas.topics import CHANNELS

app = typer.Typer(no_args_is_help=True)
dlq_app = typer.Typer(no_args_is_help=True, help="Inspect and replay a channel's dead-letter topic.")
db_app = typer.Typer(no_args_is_help=True, help="PostgreSQL administration.")
app.add_typer(dlq_app, name="dlq")
app.add_typer(db_app, name="db")
log = logging.getLogger("alertstream.consumers")


def _channel(value: str) -> str:
    if value not in CHANNELS:
        raise typer.BadParameter(f"must be one of {', '.join(CHANNELS)}")
    return value


def _dsn(settings: Settings) -> str:
    return settings.require_database()


def _config(settings: Settings) -> AlertstreamConfig:
    """The config file, or exit 2 naming every problem."""
    try:
        return load_config(settings.config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _codec(settings: Settings) -> Codec:
    """The process's codec (registry, size limit) from the settings and the config file."""
    return build_codec(settings, _config(settings))


def _time(value: str | None) -> int | None:
    """RFC 3339 or epoch milliseconds → epoch ms."""
    return None if value is None else parse_instant(value)


# The arguments several commands share, declared once.
ChannelArg = Annotated[str, typer.Argument(help="webhook, slack, pagerduty or email", callback=_channel)]
SinceOpt = Annotated[str | None, typer.Option(help="only tasks dead-lettered at or after this (RFC 3339 or epoch ms)")]
UntilOpt = Annotated[str | None, typer.Option(help="only tasks dead-lettered at or before this (RFC 3339 or epoch ms)")]
FingerprintOpt = Annotated[str | None, typer.Option(help="only this alert fingerprint")]


@app.command("deliver")
def deliver(
    channel: ChannelArg,
) -> None:
    """One channel's consumer group: `alerts` + the channel's retry tiers → receivers, DLQ."""
    from alertstream.consumers.channels import build_channel
    from alertstream.consumers.deliver import DeliveryService
    from alertstream.consumers.receiver_feed import ReceiverFeed
    from alertstream.consumers.receivers import ReceiverBook
    from alertstream.runtime.metrics import init_delivery_series, serve

    settings = load_settings(f"deliver-{channel}")
    config = _config(settings)
    init_delivery_series(channel, len(config.delivery.retry_delays_seconds))
    # The service migrates the database itself (idempotent: `dev` and fresh deployments need no
    # separate step), waiting for it when it is not up yet instead of exiting.
    dsn = _dsn(settings)
    health = settings.health()
    serve(f"deliver-{channel}", settings.metrics_port, health)
    bootstrap = kafka_bootstrap(settings)
    # Receivers follow live config (`config publish`), like the workers' rules and routes.
    book = ReceiverBook(config.receivers, channel, config.version)
    feed = ReceiverFeed(bootstrap, settings.topics.config, book)
    feed.start()
    service = DeliveryService(
        channel,
        build_channel(channel, config, book=book),
        config,
        bootstrap,
        dsn,
        settings.topics,
        codec=build_codec(settings, config),
        lookback_seconds=settings.deliver_lookback(),
        health=health,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            stats = await service.run(stop)
        except ConfigError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(EXIT_USAGE) from None
        log.info(
            "deliver %s stopped: sent=%d retried=%d dead_lettered=%d duplicates=%d superseded=%d deferred=%d",
            channel,
            stats.sent,
            stats.retried,
            stats.dead_lettered,
            stats.duplicates,
            stats.superseded,
            stats.deferred,
        )

    try:
        event_loop.run(main())
    finally:
        feed.stop()


@app.command("store")
def store(
    replay_rejected: Annotated[
        bool, typer.Option(help="write the records of alerts.store.rejected that are accepted now, then exit")
    ] = False,
) -> None:
    """The PostgreSQL sink: alerts, delivery outcomes, DLQ entries and the audit log, idempotently."""
    from alertstream.consumers.db import migrate
    from alertstream.consumers.store import replay_rejected as replay
    from alertstream.consumers.store import run_store
    from alertstream.runtime.metrics import serve

    settings = load_settings("store")
    config = _config(settings)
    dsn = _dsn(settings)
    migrate(dsn)
    codec = build_codec(settings, config)
    bootstrap = kafka_bootstrap(settings)
    if replay_rejected:
        done = replay(bootstrap, dsn, settings.topics, codec=codec)
        typer.echo(
            f"written {done.written}, already stored {done.already_present}, still refused {done.still_refused},"
            f" unreadable {done.unreadable}"
        )
        return
    from alertstream.consumers.store import REJECT_REASONS, STORE_REJECTED, STORED, STORED_KINDS

    for kind in STORED_KINDS:  # at zero from the start, so increase() sees the first one
        STORED.labels(kind=kind)
    for reason in REJECT_REASONS:
        STORE_REJECTED.labels(reason=reason)
    health = settings.health()
    serve("store", settings.metrics_port, health)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    written = run_store(bootstrap, dsn, settings.topics, stop, codec=codec, history=config.history, health=health)
    log.info("store stopped after %d records", written)


@dlq_app.command("list")
def dlq_list(
    channel: ChannelArg,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fingerprint: FingerprintOpt = None,
) -> None:
    """Print the channel's dead-lettered tasks as JSON lines."""
    from alertstream.runtime.dlq import DlqTopicMissing, read_dlq, select

    settings = load_settings("dlq")
    codec = _codec(settings)
    entries = read_dlq(kafka_bootstrap(settings), settings.topics, channel, codec=codec)
    count = 0
    try:
        for e in select(entries, _time(since), _time(until), fingerprint):
            typer.echo(json.dumps(e.summary()))
            count += 1
    except DlqTopicMissing as exc:
        raise SystemExit(str(exc)) from None
    typer.echo(f"{count} dead-lettered tasks", err=True)


@dlq_app.command("replay")
def dlq_replay(
    channel: ChannelArg,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fingerprint: FingerprintOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the tasks that would be replayed (JSON lines); produce nothing")
    ] = False,
) -> None:
    """Put the selected dead-lettered tasks back on retry tier 1 (delivered at most once each)."""
    from alertstream.runtime.dlq import DlqTopicMissing, read_dlq, replay, select

    settings = load_settings("dlq")
    codec = _codec(settings)
    bootstrap = kafka_bootstrap(settings)
    tier = settings.topics.retry(channel, 1)
    try:
        if dry_run:  # the same selection replay() makes, without its producer
            done = skipped = 0
            for e in select(
                read_dlq(bootstrap, settings.topics, channel, codec=codec), _time(since), _time(until), fingerprint
            ):
                if e.task is None:
                    skipped += 1
                    continue
                typer.echo(json.dumps(e.summary()))
                done += 1
            typer.echo(
                f"dry run: would replay {done} tasks to {tier}; {skipped} undecodable would be skipped", err=True
            )
            return
        done, skipped = replay(
            bootstrap, settings.topics, channel, _time(since), _time(until), fingerprint, codec=codec
        )
    except DlqTopicMissing as exc:
        raise SystemExit(str(exc)) from None
    typer.echo(f"replayed {done} tasks to {tier}; {skipped} undecodable skipped")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply the PostgreSQL migrations (idempotent)."""
    from alertstream.consumers.db import MissingMigrations, migrate

    try:
        applied = migrate(_dsn(load_settings("db")))
    except MissingMigrations as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"applied {', '.join(applied)}" if applied else "database is up to date")
