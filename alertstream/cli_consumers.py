"""CLI commands of the consumer stage (`deliver`, `store`, `dlq`, `db`), registered by alertstream.cli."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
