"""The SQL behind the API: reads of the tables `alertstream store` writes (migrations in
``consumers/migrations``; the table and column names are the shared contract, in SQL).

Every query takes the caller's tenant scope: a tenant key's queries always carry ``tenant = %s``,
so another tenant's rows are never read, not merely filtered out afterwards. Listings are keyset
paginated on (time DESC, tiebreaker DESC), which the indexes of migration 002 serve.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from alertstream.api.models import (
    Alert,
    Attempt,
    AuditEntry,
    Delivery,
    DlqEntry,
    Notification,
    PreviousAlert,
    Route,
)
from alertstream.api.pagination import Cursor

Conn = AsyncConnection[dict[str, Any]]

ALERT_COLUMNS = (
    "alert_id, tenant, rule_id, rule_version, status, severity, fingerprint, entity, summary, reason, details,"
    " labels, value, threshold, occurrence_count, suppressed_count, first_seen, last_seen, emitted_at, event_ids,"
    " routes, rate_limited, event"
)


@dataclass(frozen=True)
class AlertFilter:
    tenant: str | None = None
    severity: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    rule: str | None = None
    receiver: str | None = None
    fingerprint: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class DeliveryFilter:
    tenant: str | None = None
    channel: str | None = None
    receiver: str | None = None
    outcome: str | None = None
    alert_id: str | None = None
    delivery_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def alert_model(r: dict[str, Any]) -> Alert:
    return Alert(
        alert_id=r["alert_id"],
        tenant=r["tenant"],
        rule_id=r["rule_id"],
        rule_version=r["rule_version"],
        status=r["status"],
        severity=r["severity"],
        fingerprint=r["fingerprint"],
        entity=r["entity"],
        summary=r["summary"],
        reason=r["reason"],
        details=_object(r["details"]),
        labels={str(k): str(v) for k, v in _object(r["labels"]).items()},
        value=_finite(r["value"]),
        threshold=_finite(r["threshold"]),
        occurrence_count=r["occurrence_count"],
        suppressed_count=r["suppressed_count"],
        first_seen=r["first_seen"],
        last_seen=r["last_seen"],
        emitted_at=r["emitted_at"],
        event_ids=[str(e) for e in r["event_ids"]] if isinstance(r["event_ids"], list) else [],
        routes=[
            Route(receiver=str(x.get("receiver", "")), channel=str(x.get("channel", "")))
            for x in (r["routes"] if isinstance(r["routes"], list) else [])
            if isinstance(x, dict)
        ],
        rate_limited=r["rate_limited"],
        event=r.get("event") or "notify",
    )


def alert_conditions(f: AlertFilter, scope: str | None) -> tuple[list[str], list[Any]]:
    """The WHERE conditions (ANDed) and parameters of an alert filter in a tenant scope: one
    meaning of the filters for the listing, its counts and its groups."""
    where: list[str] = []
    params: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        where.append(clause)
        params.extend(values)

    if scope is not None:
        add("tenant = %s", scope)
    elif f.tenant is not None:
        add("tenant = %s", f.tenant)
    # one value as `=`: `= ANY(array)` keeps the planner from reading the index in order (top-N sort)
    for column, values in (("severity", f.severity), ("status", f.status)):
        if len(values) == 1:
            add(f"{column} = %s", values[0])
        elif values:
            add(f"{column} = ANY(%s)", list(values))
    if f.rule is not None:
        add("rule_id = %s", f.rule)
    if f.receiver is not None:
        add("routes @> %s::jsonb", json.dumps([{"receiver": f.receiver}]))
    if f.fingerprint is not None:
        add("fingerprint = %s", f.fingerprint)
    if f.since is not None:
        add("last_seen >= %s", f.since)
    if f.until is not None:
        add("last_seen < %s", f.until)
    if f.text is not None:
        add("to_tsvector('simple', summary || ' ' || entity) @@ plainto_tsquery('simple', %s)", f.text)
    return where, params


def alerts_query(f: AlertFilter, scope: str | None, after: Cursor | None, limit: int) -> tuple[str, list[Any]]:
    """SQL and parameters of one page of alerts (``limit + 1`` rows: the extra one says "more")."""
    where, params = alert_conditions(f, scope)
    if after is not None:
        where.append("(last_seen, alert_id) < (%s, %s)")
        params += [after.at, after.key]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT {ALERT_COLUMNS} FROM alerts {clause} ORDER BY last_seen DESC, alert_id DESC LIMIT %s"  # noqa: S608
    return sql, [*params, limit + 1]


async def list_alerts(
    conn: Conn, f: AlertFilter, scope: str | None, after: Cursor | None, limit: int
) -> tuple[list[Alert], Cursor | None]:
    sql, params = alerts_query(f, scope, after, limit)
    rows = await (await conn.execute(sql, params)).fetchall()
    items = [alert_model(r) for r in rows[:limit]]
    more = len(rows) > limit
    last = items[-1] if items else None
    return items, Cursor("alerts", last.last_seen, last.alert_id) if more and last else None


async def get_alert(conn: Conn, alert_id: str, scope: str | None) -> tuple[Alert, dict[str, int] | None] | None:
    sql = f"SELECT {ALERT_COLUMNS}, suppressed_by_reason FROM alerts WHERE alert_id = %s"  # noqa: S608
    params: list[Any] = [alert_id]
    if scope is not None:
        sql += " AND tenant = %s"
        params.append(scope)
    row = await (await conn.execute(sql, params)).fetchone()
    if row is None:
        return None
    raw = row["suppressed_by_reason"]
    breakdown = {str(k): int(v) for k, v in raw.items() if isinstance(v, int)} if isinstance(raw, dict) else None
    return alert_model(row), breakdown


async def previous_alerts(conn: Conn, alert: Alert, limit: int = 20) -> list[PreviousAlert]:
    """Earlier alerts of the same fingerprint (same tenant: a fingerprint includes the tenant)."""
    rows = await (
        await conn.execute(
            "SELECT alert_id, status, severity, reason, occurrence_count, suppressed_count, rate_limited, last_seen,"
            " emitted_at FROM alerts WHERE fingerprint = %s AND tenant = %s AND (last_seen, alert_id) < (%s, %s)"
            " ORDER BY last_seen DESC, alert_id DESC LIMIT %s",
            (alert.fingerprint, alert.tenant, alert.last_seen, alert.alert_id, limit),
        )
    ).fetchall()
    return [PreviousAlert(**r) for r in rows]


async def notifications_of(conn: Conn, alert: Alert) -> list[Notification]:
    rows = await (
        await conn.execute(
            "SELECT delivery_id, channel, receiver, state, attempts, status_code, reason, first_at, last_at, sent_at,"
            " dead_lettered_at FROM notifications WHERE alert_id = %s AND tenant = %s ORDER BY first_at, delivery_id",
            (alert.alert_id, alert.tenant),
        )
    ).fetchall()
    attempts = await (
        await conn.execute(
            "SELECT delivery_id, attempt, outcome, status_code, reason, latency_seconds, at FROM delivery_outcomes"
            " WHERE alert_id = %s AND tenant = %s ORDER BY at, id",
            (alert.alert_id, alert.tenant),
        )
    ).fetchall()
    by_delivery: dict[str, list[Attempt]] = {}
    for a in attempts:
        delivery_id = a.pop("delivery_id")
        a["latency_seconds"] = _finite(a["latency_seconds"]) or 0.0
        by_delivery.setdefault(delivery_id, []).append(Attempt(**a))
    return [Notification(**r, history=by_delivery.get(r["delivery_id"], [])) for r in rows]


async def dead_letters_of(conn: Conn, alert: Alert) -> list[DlqEntry]:
    rows = await (
        await conn.execute(
            "SELECT channel, delivery_id, receiver, attempt, reason, error, dead_lettered_at FROM dlq_entries"
            " WHERE alert_id = %s AND tenant = %s ORDER BY dead_lettered_at",
            (alert.alert_id, alert.tenant),
        )
    ).fetchall()
    return [DlqEntry(**r) for r in rows]


async def audit_of(conn: Conn, alert: Alert) -> list[AuditEntry]:
    rows = await (
        await conn.execute(
            "SELECT at, recorded_at, actor, action, reason, delivery_id, details FROM audit_log"
            " WHERE alert_id = %s AND tenant = %s ORDER BY at, id",
            (alert.alert_id, alert.tenant),
        )
    ).fetchall()
    return [AuditEntry(**{**r, "details": _object(r["details"])}) for r in rows]


def deliveries_query(f: DeliveryFilter, scope: str | None, after: Cursor | None, limit: int) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    tenant = scope if scope is not None else f.tenant
    for column, value in (
        ("tenant", tenant),
        ("channel", f.channel),
        ("receiver", f.receiver),
        ("outcome", f.outcome),
        ("alert_id", f.alert_id),
        ("delivery_id", f.delivery_id),
    ):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if f.since is not None:
        where.append("at >= %s")
        params.append(f.since)
    if f.until is not None:
        where.append("at < %s")
        params.append(f.until)
    if after is not None:
        where.append("(at, id) < (%s, %s)")
        params += [after.at, int(after.key) if after.key.isdigit() else 0]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    columns = (
        "id, delivery_id, alert_id, tenant, fingerprint, channel, receiver, attempt, outcome, status_code, reason,"
        " latency_seconds, at"
    )
    sql = f"SELECT {columns} FROM delivery_outcomes {clause} ORDER BY at DESC, id DESC LIMIT %s"  # noqa: S608
    return sql, [*params, limit + 1]


async def list_deliveries(
    conn: Conn, f: DeliveryFilter, scope: str | None, after: Cursor | None, limit: int
) -> tuple[list[Delivery], Cursor | None]:
    sql, params = deliveries_query(f, scope, after, limit)
    rows = await (await conn.execute(sql, params)).fetchall()
    items = [Delivery(**{**r, "latency_seconds": _finite(r["latency_seconds"]) or 0.0}) for r in rows[:limit]]
    last = items[-1] if items else None
    return items, Cursor("deliveries", last.at, str(last.id)) if len(rows) > limit and last else None
