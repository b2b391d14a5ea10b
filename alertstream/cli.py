"""The `alertstream` command: one console script, one sub-command per process or task.

The stages register their own commands (alertstream.cli_streams, alertstream.cli_consumers,
alertstream.cli_api);
this module owns the foundation's commands and the wiring. Every command reads the one Settings
object from the environment (names in CONTRACT.md).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated, TextIO

import typer

from alertstream import cli_api, cli_backtest, cli_consumers, cli_lifecycle, cli_streams
from alertstream.runtime.codecs import build_codec
from alertstream.runtime.settings import Settings
from alertstream.schemas.config import AlertstreamConfig, load_config
from alertstream.schemas.errors import ConfigError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Event-driven alert processor on Kafka.",
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(no_args_is_help=True, help="Topic administration.")
config_app = typer.Typer(no_args_is_help=True, help="Configuration files.")
schemas_app = typer.Typer(no_args_is_help=True, help="Avro schema versions.")
app.add_typer(topics_app, name="topics")
app.add_typer(config_app, name="config")
app.add_typer(schemas_app, name="schemas")


def _settings() -> Settings:
    return Settings()


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic (idempotent), with partitions/replication/cleanup policy from the config."""
    from alertstream.runtime.topic_admin import create_topics

    settings = _settings()
    config = _load_config_or_exit(settings.config)
    result = create_topics(settings.require_bootstrap(), config, settings.topics)
    typer.echo(f"created {len(result.created)} topics, {len(result.existing)} already existed")
    for name in result.created:
        typer.echo(f"  + {name}")


@app.command("publish")
def publish(
    topic: Annotated[str, typer.Argument(help="events.metric, events.drift or alerts (prefix optional)")],
    file: Annotated[Path | None, typer.Argument(help="JSON-lines file; stdin when omitted")] = None,
    skip_invalid: Annotated[bool, typer.Option(help="publish the valid lines even if some are bad")] = False,
) -> None:
    """Read JSON lines, validate, encode Avro, publish; non-zero exit with line numbers on bad input."""
    from alertstream.publish import PUBLISHABLE, prepare, produce_all, progress_line

    settings = _settings()
    contract = topic.removeprefix(settings.topic_prefix) if settings.topic_prefix else topic
    if contract not in PUBLISHABLE:
        typer.echo(f"error: cannot publish to {topic!r}; choose one of {', '.join(PUBLISHABLE)}", err=True)
        raise typer.Exit(2)
    full_topic = settings.topics.name(contract)
    codec = build_codec(settings, _load_config_or_exit(settings.config))
    handle: TextIO
    if file is not None:
        try:
            handle = file.open(encoding="utf-8")
        except OSError as exc:
            typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    else:
        handle = sys.stdin
    with handle:
        prepared = prepare(handle, contract, codec, full_topic, int(time.time() * 1000))
    for error in prepared.errors[:50]:
        typer.echo(f"{file or '<stdin>'}: {error}", err=True)
    if len(prepared.errors) > 50:
        typer.echo(f"… and {len(prepared.errors) - 50} more bad lines", err=True)
    if prepared.errors and not skip_invalid:
        typer.echo(f"published 0 of {len(prepared.messages)} valid lines: {len(prepared.errors)} bad lines", err=True)
        raise typer.Exit(1)
    sent = produce_all(settings.require_bootstrap(), full_topic, prepared.messages, progress_line)
    typer.echo(f"published {sent} events to {full_topic}; {len(prepared.errors)} bad lines skipped")
    if prepared.errors:
        raise typer.Exit(1)


def _load_config_or_exit(path: str | None) -> AlertstreamConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@config_app.command("validate")
def config_validate(file: Annotated[Path, typer.Argument(help="the YAML config file")]) -> None:
    """Validate a config file; name every problem with its file, path and reason (and the SSRF
    check of every ``url_env`` variable that is set in this environment)."""
    import os

    from alertstream.schemas.receivers_config import url_env_problems

    try:
        config = load_config(file)
        problems = url_env_problems(config.receivers, os.environ)  # the values the file cannot show
        if problems:
            raise ConfigError(str(file), problems)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: ok (version {config.version}, {len(config.rules)} rules, {len(config.receivers)} receivers)")


@config_app.command("publish")
def config_publish(file: Annotated[Path, typer.Argument(help="the YAML config file")]) -> None:
    """Publish a config to the running workers (the compacted config topic); its version must be newer."""
    import yaml

    from alertstream.streams.config_feed import ConfigFeed, publish_config

    settings = _settings()
    config = _load_config_or_exit(str(file))
    bootstrap = settings.require_bootstrap()
    feed = ConfigFeed(bootstrap, settings.topics.config)
    feed.start()
    try:
        if not feed.wait_caught_up(30):
            typer.echo(f"could not read {settings.topics.config} to its end in 30 s", err=True)
            raise typer.Exit(1)
        in_force = feed.version
    finally:
        feed.stop()
    try:
        publish_config(bootstrap, settings.topics.config, yaml.safe_load(file.read_text("utf-8")), in_force=in_force)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: published version {config.version} (was {in_force if in_force is not None else 'none'})")


@schemas_app.command("check")
def schemas_check() -> None:
    """Check FULL_TRANSITIVE compatibility of the current schemas with every kept version."""
    from alertstream.schemas.evolution import check_full_transitive

    problems = list(check_full_transitive())
    for p in problems:
        typer.echo(f"{p.name} v{p.version} {p.direction}: {p.problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("all schemas are FULL_TRANSITIVE compatible with their kept versions")


@schemas_app.command("snapshot")
def schemas_snapshot() -> None:
    """Keep each changed schema as its next version under schemas/history/ (run when releasing)."""
    from alertstream.schemas.evolution import snapshot

    for path in snapshot() or ["nothing changed"]:
        typer.echo(path)


@app.command("dev")
def dev() -> None:
    """The whole pipeline on one machine: local stack, topics, every process, a demo producer."""
    from alertstream.dev import run_dev

    available = {c.name for c in app.registered_commands if c.name} | {g.name for g in app.registered_groups if g.name}
    raise typer.Exit(run_dev(_settings(), available))


@app.command("bench")
def bench(
    events: Annotated[int, typer.Option(help="events per measurement")] = 50_000,
    part: Annotated[list[str] | None, typer.Option(help="evaluator, delivery and/or api (default: all)")] = None,
    out: Annotated[Path, typer.Option(help="folder for the JSON results")] = Path("bench-results"),
) -> None:
    """Throughput, latency and memory of each stage beside the raw confluent-kafka passthrough ceiling."""
    from alertstream.bench.harness import PARTS, format_report, run_bench

    chosen = part or list(PARTS)
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        typer.echo(f"error: unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}", err=True)
        raise typer.Exit(2)
    typer.echo(format_report(run_bench(_settings(), chosen, events, out)))


def _register(sub: typer.Typer) -> None:
    """Merge a stage's commands and groups into the top level (`alertstream worker`, `deliver`, …)."""
    app.registered_commands.extend(sub.registered_commands)
    app.registered_groups.extend(sub.registered_groups)


_register(cli_streams.app)
_register(cli_consumers.app)
_register(cli_api.app)
_register(cli_backtest.app)
_register(cli_lifecycle.app)


def main() -> None:
    from alertstream.schemas.errors import SchemaRegistryUnavailable

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        app()
    except SchemaRegistryUnavailable as exc:  # publish, dlq list/replay: one-shot commands do not wait
        typer.echo(f"error: the schema registry is unavailable ({exc.detail}); stopped: run it again later", err=True)
        raise SystemExit(3) from None
