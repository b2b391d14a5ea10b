"""What every `alertstream` command does first, and how every command ends: one place for both.

:func:`load_settings` reads the one settings object, sets up logging (``ALERTSTREAM_LOG_LEVEL`` /
``_LOG_FORMAT``) and the process's Kafka connection (TLS, SASL, passthrough properties: every
client of the process then uses it). :func:`kafka_bootstrap` is the broker address after a probe
that it answers with those settings. :func:`run` maps what went wrong to one line on stderr and
the documented exit code:

=====  =====================================================================================
code   meaning
=====  =====================================================================================
0      done
1      a runtime failure: Kafka or PostgreSQL unreachable (or TLS/SASL refused), bad input
       lines (``publish``), a refused action (a stale ``config publish``, a revoked key)
2      usage or configuration error: unknown option, bad ``ALERTSTREAM_*`` setting, a required
       setting missing, an invalid config file (every command, ``config validate`` included),
       an unreadable FILE
3      stopped on purpose, run again later: the schema registry is unavailable (``publish``,
       ``dlq list|replay``: one-shot commands do not wait), or ``backtest --fail-on-increase``
       tripped
=====  =====================================================================================
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import typer
from pydantic import ValidationError

from alertstream.runtime.kafka_clients import use_connection
from alertstream.runtime.log_setup import configure_logging
from alertstream.runtime.settings import MissingSetting, Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_LATER = 3


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def load_settings(process: str = "alertstream") -> Settings:
    """The settings of this process, with logging and the Kafka connection set up from them."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in exc.errors():
            where = "ALERTSTREAM_" + "_".join(str(p) for p in problem["loc"]).upper()
            typer.echo(f"error: {where}: {problem['msg']}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    except ValueError as exc:  # a secret file that cannot be read, a variable set twice
        fail(str(exc), EXIT_USAGE)
    configure_logging(settings.log_level, settings.log_format, process)
    try:
        use_connection(settings.kafka_connection())
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    return settings


def kafka_bootstrap(settings: Settings) -> str:
    """The broker address, once a broker answered with this process's connection settings."""
    from alertstream.runtime.kafka_probe import check_kafka

    bootstrap = settings.require_bootstrap()
    check_kafka(bootstrap)
    return bootstrap


def run(app: Callable[[], object]) -> None:
    """Run the CLI; the failures every command shares become one line and their exit code."""
    import psycopg

    from alertstream.runtime.kafka_probe import KafkaUnavailable
    from alertstream.schemas.errors import SchemaRegistryUnavailable

    try:
        app()
    except SchemaRegistryUnavailable as exc:  # publish, dlq list/replay: one-shot commands do not wait
        fail(f"the schema registry is unavailable ({exc.detail}); stopped: run it again later", EXIT_LATER)
    except KafkaUnavailable as exc:
        fail(str(exc))
    except MissingSetting as exc:
        fail(str(exc), EXIT_USAGE)
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or ["no answer"])[0]
        fail(f"cannot connect to PostgreSQL: {first}")
    except KeyboardInterrupt:
        sys.exit(130)
