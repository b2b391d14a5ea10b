"""`GET /api/v1/stats`: counts over a time range (default the last 24 h), scoped to the key's tenant.

Alerts by severity, status, rule and tenant (on ``last_seen``), and the suppressions folded into
them by reason; per channel: notifications last
updated in the range, how many were delivered or dead-lettered, the attempt success rate, the
alert → delivery latency (``emitted_at`` → first ``sent``, p50/p99), and the DLQ depth now
(notifications whose latest outcome is a dead-lettering: not delivered since, e.g. by a replay).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alertstream.api.history import Conn
from alertstream.api.models import AlertStats, ChannelStats, Count, Stats

#: the tenant scope of every query: ``scope`` twice (NULL = an admin key: every tenant); the planner
#: folds the NULL test away, so the tenant indexes are used
SCOPE = "(%s::text IS NULL OR tenant = %s)"


async def stats(conn: Conn, scope: str | None, since: datetime, until: datetime) -> Stats:
    tenant_params = [scope, scope]
    base = [since, until, *tenant_params]

    async def grouped(column: str, top: int | None = None) -> list[tuple[str, int]]:
        limit = f" LIMIT {int(top)}" if top else ""
        rows = await (
            await conn.execute(
                f"SELECT {column} AS key, count(*) AS n FROM alerts"  # noqa: S608 - column names are constants
                f" WHERE last_seen >= %s AND last_seen < %s AND {SCOPE} GROUP BY {column} ORDER BY n DESC, key{limit}",
                base,
            )
        ).fetchall()
        return [(r["key"], int(r["n"])) for r in rows]

    by_severity = dict(await grouped("severity"))
    suppressed, by_reason = await _suppressions(conn, base)
    alerts = AlertStats(
        total=sum(by_severity.values()),
        by_severity=by_severity,
        by_status=dict(await grouped("status")),
        by_rule=[Count(key=k, count=n) for k, n in await grouped("rule_id", 20)],
        by_tenant=[Count(key=k, count=n) for k, n in await grouped("tenant", 20)],
        suppressed=suppressed,
        suppressed_by_reason=by_reason,
    )
    notifications = await (
        await conn.execute(
            "SELECT n.channel, count(*) AS notifications,"
            " count(*) FILTER (WHERE n.sent_at IS NOT NULL OR n.state = 'duplicate') AS delivered,"
            " count(*) FILTER (WHERE n.state IN ('dead_lettered', 'disabled')) AS dead_lettered,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM n.sent_at - a.emitted_at))"
            "   FILTER (WHERE n.sent_at IS NOT NULL AND a.emitted_at IS NOT NULL) AS p50,"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM n.sent_at - a.emitted_at))"
            "   FILTER (WHERE n.sent_at IS NOT NULL AND a.emitted_at IS NOT NULL) AS p99"
            " FROM notifications n LEFT JOIN alerts a ON a.alert_id = n.alert_id"
            " WHERE n.last_at >= %s AND n.last_at < %s AND (%s::text IS NULL OR n.tenant = %s) GROUP BY n.channel",
            base,
        )
    ).fetchall()
    attempts = await (
        await conn.execute(
            "SELECT channel, count(*) FILTER (WHERE outcome <> 'duplicate') AS attempts,"
            " count(*) FILTER (WHERE outcome = 'sent') AS sent FROM delivery_outcomes"
            " WHERE at >= %s AND at < %s AND (%s::text IS NULL OR tenant = %s) GROUP BY channel",
            base,
        )
    ).fetchall()
    depth = await (
        await conn.execute(
            "SELECT channel, count(*) AS n FROM notifications WHERE state IN ('dead_lettered', 'disabled')"
            " AND (%s::text IS NULL OR tenant = %s) GROUP BY channel",
            tenant_params,
        )
    ).fetchall()
    undecodable: list[dict[str, Any]] = []
    if scope is None:  # undecodable DLQ records belong to no tenant: admin keys only
        undecodable = await (
            await conn.execute(
                "SELECT channel, count(*) AS n FROM dlq_entries WHERE delivery_id IS NULL"
                " AND dead_lettered_at >= %s AND dead_lettered_at < %s GROUP BY channel",
                [since, until],
            )
        ).fetchall()
    return Stats(
        since=since,
        until=until,
        alerts=alerts,
        deliveries=_channels(notifications, attempts, depth, undecodable),
    )


async def _suppressions(conn: Conn, base: list[Any]) -> tuple[int, dict[str, int]]:
    """The suppressions folded into the range's alerts, in total and by reason. Each suppression
    is counted in exactly one record (the next notification or resolve of its episode resets the
    count). Records stored before the breakdown existed carry a count without one: the
    difference is ``unattributed``."""
    where = f"last_seen >= %s AND last_seen < %s AND {SCOPE}"
    row = await (
        await conn.execute(f"SELECT coalesce(sum(suppressed_count), 0) AS n FROM alerts WHERE {where}", base)  # noqa: S608
    ).fetchone()
    total = int(row["n"]) if row else 0
    rows = await (
        await conn.execute(
            "SELECT r.key, sum(r.value::bigint) AS n FROM alerts, jsonb_each_text(suppressed_by_reason) r"  # noqa: S608
            f" WHERE {where} AND suppressed_by_reason IS NOT NULL GROUP BY r.key ORDER BY n DESC, r.key",
            base,
        )
    ).fetchall()
    by_reason = {str(r["key"]): int(r["n"]) for r in rows if int(r["n"])}
    rest = total - sum(by_reason.values())
    if rest > 0:
        by_reason["unattributed"] = rest
    return total, by_reason


def _channels(
    notifications: list[dict[str, Any]],
    attempts: list[dict[str, Any]],
    depth: list[dict[str, Any]],
    undecodable: list[dict[str, Any]],
) -> list[ChannelStats]:
    by_n = {r["channel"]: r for r in notifications}
    by_a = {r["channel"]: r for r in attempts}
    by_d = {r["channel"]: int(r["n"]) for r in depth}
    by_u = {r["channel"]: int(r["n"]) for r in undecodable}
    out = []
    for channel in sorted(set(by_n) | set(by_a) | set(by_d) | set(by_u)):
        n = by_n.get(channel, {})
        a = by_a.get(channel, {})
        delivered, dead = int(n.get("delivered") or 0), int(n.get("dead_lettered") or 0)
        made, sent = int(a.get("attempts") or 0), int(a.get("sent") or 0)
        out.append(
            ChannelStats(
                channel=channel,
                notifications=int(n.get("notifications") or 0),
                delivered=delivered,
                dead_lettered=dead,
                success_rate=round(delivered / (delivered + dead), 6) if delivered + dead else None,
                attempts=made,
                attempt_success_rate=round(sent / made, 6) if made else None,
                dlq_depth=by_d.get(channel, 0),
                dlq_undecodable=by_u.get(channel, 0),
                alert_to_delivery_p50_seconds=_seconds(n.get("p50")),
                alert_to_delivery_p99_seconds=_seconds(n.get("p99")),
            )
        )
    return out


def _seconds(value: Any) -> float | None:
    return round(float(value), 6) if value is not None else None
