"""Counts and groups of the alerts a filter selects (the console's list header and its "group by
rule / fingerprint" view), with the listing's own filter semantics (``history.alert_conditions``)."""

from __future__ import annotations

from typing import Any

from alertstream.api.console.models import Counts, Group
from alertstream.api.history import ALERT_COLUMNS, AlertFilter, Conn, alert_conditions, alert_model

#: severity rank for "worst": critical < warning < info
_RANK = "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"
_NAMES = {0: "critical", 1: "warning", 2: "info"}
_KEYS = {"rule": "rule_id", "fingerprint": "fingerprint"}


def _where(f: AlertFilter, scope: str | None) -> tuple[str, list[Any]]:
    where, params = alert_conditions(f, scope)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


async def counts(conn: Conn, f: AlertFilter, scope: str | None) -> Counts:
    clause, params = _where(f, scope)
    rows = await (
        await conn.execute(
            f"SELECT severity, status, count(*) AS n FROM alerts {clause} GROUP BY severity, status",  # noqa: S608
            params,
        )
    ).fetchall()
    by_severity: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for r in rows:
        by_severity[r["severity"]] = by_severity.get(r["severity"], 0) + int(r["n"])
        by_status[r["status"]] = by_status.get(r["status"], 0) + int(r["n"])
    return Counts(total=sum(by_severity.values()), by_severity=by_severity, by_status=by_status)


async def groups(conn: Conn, f: AlertFilter, scope: str | None, by: str, limit: int) -> list[Group]:
    """The groups with the newest activity first; each with its newest matching alert."""
    column = _KEYS[by]
    clause, params = _where(f, scope)
    rows = await (
        await conn.execute(
            f"SELECT {column} AS key, count(*) AS n,"  # noqa: S608 - column is one of two constants
            " count(*) FILTER (WHERE status = 'firing') AS firing,"
            " count(*) FILTER (WHERE status = 'resolved') AS resolved,"
            f" min({_RANK}) AS worst, min(first_seen) AS first_seen, max(last_seen) AS last_seen,"
            " (array_agg(alert_id ORDER BY last_seen DESC, alert_id DESC))[1] AS latest"
            f" FROM alerts {clause} GROUP BY {column} ORDER BY max(last_seen) DESC, {column} LIMIT %s",
            [*params, limit],
        )
    ).fetchall()
    if not rows:
        return []
    latest = await (
        await conn.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = ANY(%s)",  # noqa: S608
            ([r["latest"] for r in rows],),
        )
    ).fetchall()
    by_id = {r["alert_id"]: alert_model(r) for r in latest}
    return [
        Group(
            key=r["key"],
            count=int(r["n"]),
            firing=int(r["firing"]),
            resolved=int(r["resolved"]),
            worst_severity=_NAMES.get(int(r["worst"]), "info"),
            first_seen=r["first_seen"],
            last_seen=r["last_seen"],
            latest=by_id[r["latest"]],
        )
        for r in rows
        if r["latest"] in by_id
    ]
