"""The console's overview over a time range, scoped to the key's tenant, from what the history
keeps: alerts by severity per time bucket, folded occurrences by reason, delivery attempts and
their latency per channel per bucket, the stats of ``GET /api/v1/stats`` (per channel totals, DLQ
depth now), receivers whose circuit breaker is probably open, and the noisiest rules and
fingerprints.

Approximations (the history has no breaker state): a receiver counts as "probably open" when its
latest ``BREAKER_FAILURES`` attempts (the config's default ``delivery.breaker_failures``) all
failed and the latest is less than ``BREAKER_RECENT`` old; a tenant key sees only what its own
deliveries say about a receiver. Folded occurrences per reason come from the records that carry
the breakdown; the others count as ``unattributed``. Latency is each attempt's own time
(``delivery_outcomes.latency_seconds``); alert → delivery latency is in ``stats``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alertstream.api.console import buckets
from alertstream.api.console.models import Breaker, ChannelSeries, Noisy, Overview, SeriesPoint
from alertstream.api.history import Conn
from alertstream.api.stats import SCOPE
from alertstream.api.stats import stats as compute_stats

BREAKER_FAILURES = 5
BREAKER_RECENT = timedelta(minutes=10)
NOISY = 10
SEVERITIES = ("critical", "warning", "info")
_RANK = "min(CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)"
_NAMES = {0: "critical", 1: "warning", 2: "info"}
_ATTEMPTS = "FILTER (WHERE outcome <> 'duplicate')"


async def overview(conn: Conn, scope: str | None, since: datetime, until: datetime, now: datetime) -> Overview:
    width = buckets.bucket_seconds(since, until)
    origin = buckets.origin(since, width)
    starts = buckets.starts(since, until, width)
    scoped = [since, until, scope, scope]
    return Overview(
        since=since,
        until=until,
        bucket_seconds=width,
        alerts_by_severity=await _severity_series(conn, scoped, width, origin, starts),
        suppressed_by_reason=await _suppressed(conn, scoped),
        rate_limited=await _rate_limited(conn, scoped),
        deliveries=await _delivery_series(conn, scoped, width, origin, starts),
        stats=await compute_stats(conn, scope, since, until),
        open_breakers=await _breakers(conn, scope, now),
        noisiest_rules=await _noisy(conn, scoped, "rule_id"),
        noisiest_fingerprints=await _noisy(conn, scoped, "fingerprint"),
    )


def _bin(column: str) -> str:
    return f"date_bin(make_interval(secs => %s), {column}, %s::timestamptz)"


async def _severity_series(
    conn: Conn, scoped: list[Any], width: int, origin: datetime, starts: list[datetime]
) -> list[SeriesPoint]:
    rows = await (
        await conn.execute(
            f"SELECT {_bin('last_seen')} AS b, severity, count(*) AS n FROM alerts"  # noqa: S608
            f" WHERE last_seen >= %s AND last_seen < %s AND {SCOPE} GROUP BY 1, 2",
            [width, origin, *scoped],
        )
    ).fetchall()
    cells = {(r["b"], r["severity"]): int(r["n"]) for r in rows}
    names = sorted({r["severity"] for r in rows} | set(SEVERITIES), key=_severity_order)
    return [SeriesPoint(at=at, values={s: float(cells.get((at, s), 0)) for s in names}) for at in starts]


def _severity_order(name: str) -> tuple[int, str]:
    return (SEVERITIES.index(name) if name in SEVERITIES else len(SEVERITIES), name)


async def _suppressed(conn: Conn, scoped: list[Any]) -> dict[str, int]:
    rows = await (
        await conn.execute(
            "SELECT r.key, sum((r.value)::numeric) AS n FROM alerts a"  # noqa: S608
            " CROSS JOIN LATERAL jsonb_each(a.suppressed_by_reason) AS r(key, value)"
            " WHERE jsonb_typeof(a.suppressed_by_reason) = 'object' AND jsonb_typeof(r.value) = 'number'"
            f" AND a.last_seen >= %s AND a.last_seen < %s AND {SCOPE.replace('tenant', 'a.tenant')} GROUP BY r.key",
            scoped,
        )
    ).fetchall()
    out = {r["key"]: int(r["n"]) for r in rows if r["n"]}
    row = await (
        await conn.execute(
            "SELECT coalesce(sum(suppressed_count), 0) AS n FROM alerts"  # noqa: S608
            " WHERE (suppressed_by_reason IS NULL OR jsonb_typeof(suppressed_by_reason) <> 'object')"
            f" AND last_seen >= %s AND last_seen < %s AND {SCOPE}",
            scoped,
        )
    ).fetchone()
    unattributed = int(row["n"]) if row else 0
    if unattributed:
        out["unattributed"] = unattributed
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


async def _rate_limited(conn: Conn, scoped: list[Any]) -> int:
    row = await (
        await conn.execute(
            f"SELECT count(*) AS n FROM alerts WHERE rate_limited AND last_seen >= %s AND last_seen < %s AND {SCOPE}",  # noqa: S608
            scoped,
        )
    ).fetchone()
    return int(row["n"]) if row else 0


async def _delivery_series(
    conn: Conn, scoped: list[Any], width: int, origin: datetime, starts: list[datetime]
) -> list[ChannelSeries]:
    rows = await (
        await conn.execute(
            f"SELECT channel, {_bin('at')} AS b,"  # noqa: S608
            " count(*) FILTER (WHERE outcome = 'sent') AS sent,"
            " count(*) FILTER (WHERE outcome IN ('retrying', 'dead_lettered', 'disabled')) AS failed,"
            f" percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_seconds) {_ATTEMPTS} AS p50,"
            f" percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_seconds) {_ATTEMPTS} AS p99"
            f" FROM delivery_outcomes WHERE at >= %s AND at < %s AND {SCOPE} GROUP BY 1, 2",
            [width, origin, *scoped],
        )
    ).fetchall()
    cells: dict[str, dict[datetime, dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault(row["channel"], {})[row["b"]] = row
    out = []
    for channel in sorted(cells):
        points = []
        for at in starts:
            r = cells[channel].get(at)
            points.append(
                SeriesPoint(
                    at=at,
                    values={
                        "sent": float(r["sent"]) if r else 0.0,
                        "failed": float(r["failed"]) if r else 0.0,
                        "p50_seconds": _round(r["p50"]) if r else None,
                        "p99_seconds": _round(r["p99"]) if r else None,
                    },
                )
            )
        out.append(ChannelSeries(channel=channel, points=points))
    return out


def _round(value: Any) -> float | None:
    return round(float(value), 6) if value is not None else None


async def _breakers(conn: Conn, scope: str | None, now: datetime) -> list[Breaker]:
    rows = await (
        await conn.execute(
            "SELECT channel, receiver, count(*) AS n, bool_and(outcome <> 'sent') AS all_failed, max(at) AS last_at,"
            " (array_agg(reason ORDER BY at DESC, id DESC))[1] AS last_reason FROM ("
            "  SELECT channel, receiver, outcome, reason, at, id,"
            "   row_number() OVER (PARTITION BY channel, receiver ORDER BY at DESC, id DESC) AS rn"
            "  FROM delivery_outcomes WHERE at >= %s AND outcome <> 'duplicate' AND (%s::text IS NULL OR tenant = %s)"
            " ) latest WHERE rn <= %s GROUP BY channel, receiver ORDER BY channel, receiver",
            [now - BREAKER_RECENT, scope, scope, BREAKER_FAILURES],
        )
    ).fetchall()
    return [
        Breaker(
            channel=r["channel"],
            receiver=r["receiver"],
            failures=int(r["n"]),
            last_at=r["last_at"],
            last_reason=r["last_reason"],
        )
        for r in rows
        if int(r["n"]) >= BREAKER_FAILURES and r["all_failed"]
    ]


async def _noisy(conn: Conn, scoped: list[Any], column: str) -> list[Noisy]:
    rows = await (
        await conn.execute(
            f"SELECT {column} AS key, count(*) AS n, coalesce(sum(suppressed_count), 0) AS s,"  # noqa: S608
            f" {_RANK} AS worst,"
            " (array_agg(rule_id ORDER BY last_seen DESC))[1] AS rule_id,"
            " (array_agg(entity ORDER BY last_seen DESC))[1] AS entity,"
            " (array_agg(summary ORDER BY last_seen DESC))[1] AS summary"
            f" FROM alerts WHERE last_seen >= %s AND last_seen < %s AND {SCOPE}"
            f" GROUP BY {column} ORDER BY count(*) DESC, sum(suppressed_count) DESC, {column} LIMIT {NOISY}",
            scoped,
        )
    ).fetchall()
    by_fingerprint = column == "fingerprint"
    return [
        Noisy(
            key=r["key"],
            alerts=int(r["n"]),
            suppressed=int(r["s"]),
            rule_id=r["rule_id"],
            entity=r["entity"] if by_fingerprint else None,
            summary=r["summary"] if by_fingerprint else None,
            worst_severity=_NAMES.get(int(r["worst"]), "info"),
        )
        for r in rows
    ]
