"""What a set of label matchers selects now — the preview of a silence before it is created.

"Now" means the firing alerts: the newest record of each fingerprint, when that record is firing,
among the ``EXAMINE`` newest records of the last ``WINDOW`` in the caller's scope. Matchers have
Alertmanager's semantics and see an alert's label set (:mod:`alertstream.schemas.matchers`: its
event labels plus ``alertname``, ``rule``, ``tenant``, ``severity``, ``entity``). Equality matchers
on those five names narrow the SQL first (the indexes on tenant, rule and severity serve them), so
a silence of one rule examines that rule's alerts only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alertstream.api.console.models import Preview
from alertstream.api.history import ALERT_COLUMNS, Conn, alert_model
from alertstream.schemas.matchers import Matcher, alert_labels, matches_all

WINDOW = timedelta(days=7)
EXAMINE = 20_000
SHOWN = 50
_COLUMN = {"alertname": "rule_id", "rule": "rule_id", "severity": "severity", "entity": "entity", "tenant": "tenant"}


def prefilter(matchers: list[Matcher], scope: str | None) -> tuple[list[str], list[Any]]:
    """SQL conditions implied by the matchers (equality on an alert field), plus the scope."""
    where: list[str] = []
    params: list[Any] = []
    if scope is not None:
        where.append("tenant = %s")
        params.append(scope)
    for m in matchers:
        column = _COLUMN.get(m.name)
        if column is not None and m.op == "=":
            where.append(f"{column} = %s")
            params.append(m.value)
    return where, params


async def preview(conn: Conn, matchers: list[Matcher], scope: str | None, now: datetime) -> Preview:
    where, params = prefilter(matchers, scope)
    where.append("last_seen >= %s")
    params.append(now - WINDOW)
    rows = await (
        await conn.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY last_seen DESC, alert_id DESC LIMIT %s",
            [*params, EXAMINE],
        )
    ).fetchall()
    seen: set[str] = set()
    matched = []
    for r in rows:
        if r["fingerprint"] in seen:
            continue
        seen.add(r["fingerprint"])
        if r["status"] != "firing":
            continue
        labels = alert_labels({**r, "labels": r["labels"] if isinstance(r["labels"], dict) else {}})
        if matches_all(matchers, labels):
            matched.append((alert_model(r), labels))
    return Preview(
        matched=len(matched),
        examined=len(seen),
        truncated=len(rows) >= EXAMINE,
        alerts=[a for a, _ in matched[:SHOWN]],
        labels=[labels for _, labels in matched[:SHOWN]],
    )
