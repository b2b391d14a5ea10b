"""CLI commands of the evaluator stage (`alertstream worker`), registered by alertstream.cli."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
