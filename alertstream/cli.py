"""The `alertstream` command: one console script, one sub-command per process or task.

The stages register their own commands (alertstream.cli_streams, alertstream.cli_consumers,
alertstream.cli_api);
this module owns the foundation's commands and the wiring. Every command reads the one Settings
object from the environment (names in CONTRACT.md) through :func:`alertstream.cli_setup.load_settings`,
and ends through :func:`alertstream.cli_setup.run` (one line on stderr, the documented exit codes).
Wherever a command reads a FILE, ``-`` is stdin.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, TextIO

import typer

from alertstream import __version__, cli_api, cli_backtest, cli_consumers, cli_lifecycle, cli_streams
from alertstream.cli_setup import EXIT_USAGE, kafka_bootstrap, load_settings, run
from alertstream.runtime.codecs import build_codec
from alertstream.runtime.settings import Settings
from alertstream.schemas.config import AlertstreamConfig, load_config
from alertstream.schemas.errors import ConfigError

app = typer.Typer(
    no_args_is_help=True,
    help="Event-driven alert processor on Kafka. Exit codes: 0 done, 1 runtime failure (Kafka/PostgreSQL "
    "unreachable, bad input), 2 usage or configuration error, 3 stopped on purpose (registry unavailable, "
    "backtest --fail-on-increase).",
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(no_args_is_help=True, help="Topic administration.")
config_app = typer.Typer(no_args_is_help=True, help="Configuration files.")
schemas_app = typer.Typer(no_args_is_help=True, help="Avro schema versions.")
app.add_typer(topics_app, name="topics")
app.add_typer(config_app, name="config")
app.add_typer(schemas_app, name="schemas")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"alertstream {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Event-driven alert processor on Kafka."""


def _settings(process: str = "alertstream") -> Settings:
    return load_settings(process)


def _open(file: Path) -> TextIO:
    """FILE for reading; ``-`` is stdin. An unreadable file is a usage error (exit 2)."""
    if str(file) == "-":
        return sys.stdin
    try:
        return file.open(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic (idempotent), with partitions/replication/cleanup policy from the config."""
    from alertstream.runtime.topic_admin import create_topics

    settings = _settings()
    config = _load_config_or_exit(settings.config)
    result = create_topics(kafka_bootstrap(settings), config, settings.topics)
    typer.echo(f"created {len(result.created)} topics, {len(result.existing)} already existed")
    for name in result.created:
        typer.echo(f"  + {name}")


@app.command("publish")
def publish(
    topic: Annotated[str, typer.Argument(help="events.metric, events.drift or alerts (prefix optional)")],
    file: Annotated[Path | None, typer.Argument(help="JSON-lines file; stdin when omitted or -")] = None,
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
    handle = _open(file or Path("-"))
    with handle:
        prepared = prepare(handle, contract, codec, full_topic, int(time.time() * 1000))
    name = "<stdin>" if handle is sys.stdin else str(file)
    for error in prepared.errors[:50]:
        typer.echo(f"{name}: {error}", err=True)
    if len(prepared.errors) > 50:
        typer.echo(f"… and {len(prepared.errors) - 50} more bad lines", err=True)
    if prepared.errors and not skip_invalid:
        typer.echo(f"published 0 of {len(prepared.messages)} valid lines: {len(prepared.errors)} bad lines", err=True)
        raise typer.Exit(1)
    sent = produce_all(kafka_bootstrap(settings), full_topic, prepared.messages, progress_line)
    typer.echo(f"published {sent} events to {full_topic}; {len(prepared.errors)} bad lines skipped")
    if prepared.errors:
        raise typer.Exit(1)


def _load_config_or_exit(path: str | Path | None) -> AlertstreamConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _config_from(file: Path) -> tuple[AlertstreamConfig, str, str]:
    """The config in FILE (``-``: stdin, cited as ``<stdin>``), its name and its text; exit 2
    naming every problem."""
    from alertstream.schemas.config import load_config_text

    name = "<stdin>" if str(file) == "-" else str(file)
    with _open(file) as handle:
        text = handle.read()
    try:
        return load_config_text(text, name), name, text
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None


@config_app.command("validate")
def config_validate(file: Annotated[Path, typer.Argument(help="the YAML config file; - for stdin")]) -> None:
    """Validate a config file; name every problem with its file, path and reason (and the SSRF
    check of every ``url_env`` variable that is set in this environment). Exit 2 when invalid."""
    import os

    from alertstream.schemas.receivers_config import url_env_problems

    config, name, _ = _config_from(file)
    problems = url_env_problems(config.receivers, os.environ)  # the values the file cannot show
    if problems:
        typer.echo(str(ConfigError(name, problems)), err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(f"{name}: ok (version {config.version}, {len(config.rules)} rules, {len(config.receivers)} receivers)")


@config_app.command("schema")
def config_schema() -> None:
    """Print the config file's JSON Schema (point an editor's YAML validation at it)."""
    import json

    from alertstream.schemas.config_schema import config_json_schema

    typer.echo(json.dumps(config_json_schema(), indent=2, sort_keys=True))


@config_app.command("publish")
def config_publish(file: Annotated[Path, typer.Argument(help="the YAML config file; - for stdin")]) -> None:
    """Publish a config to the running workers (the compacted config topic); its version must be newer."""
    import yaml

    from alertstream.streams.config_feed import ConfigFeed, publish_config

    settings = _settings()
    config, name, text = _config_from(file)
    bootstrap = kafka_bootstrap(settings)
    try:
        current = ConfigFeed.in_force(bootstrap, settings.topics.config)
    except TimeoutError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    in_force = current.version if current is not None else None
    try:
        publish_config(bootstrap, settings.topics.config, yaml.safe_load(text), in_force=in_force)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{name}: published version {config.version} (was {in_force if in_force is not None else 'none'})")


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
    raise typer.Exit(run_dev(_settings("dev"), available))


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
    typer.echo(format_report(run_bench(_settings("bench"), chosen, events, out)))


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
    run(app)
