"""Times and durations on the command line: one parser for every command that takes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import typer

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_instant(value: str) -> int:
    """RFC 3339 (UTC when no offset is given) or epoch milliseconds -> epoch ms."""
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither RFC 3339 nor epoch milliseconds") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def parse_duration(value: str) -> int:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w`` (or ``500ms``) -> milliseconds."""
    match = _DURATION.match(value.strip())
    if match is None:
        raise typer.BadParameter(f"{value!r} is not a duration like 30m, 12h or 7d")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])
