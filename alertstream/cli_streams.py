"""CLI commands of the evaluator stage (`alertstream worker`), registered by alertstream.cli."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("worker")
def worker(
    publish_config: bool = typer.Option(
        True,
        "--publish-config/--no-publish-config",
        help="publish ALERTSTREAM_CONFIG to the config topic at start (off: follow what is there)",
    ),
) -> None:
    """The Faust evaluator: events.metric + events.drift -> alerts (at-least-once)."""
    from alertstream.cli_setup import EXIT_USAGE, kafka_bootstrap, load_settings
    from alertstream.runtime import metrics
    from alertstream.runtime.codecs import build_codec
    from alertstream.schemas.config import load_config
    from alertstream.schemas.errors import ConfigError
    from alertstream.streams.worker import run_worker

    settings = load_settings("worker")
    try:
        config = load_config(settings.config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    codec = build_codec(settings, config)
    health = settings.health()
    metrics.init_worker_series()
    metrics.serve("worker", settings.metrics_port, health)
    bootstrap = kafka_bootstrap(settings)
    run_worker(bootstrap, settings.topics, config, publish=publish_config, codec=codec, health=health)
