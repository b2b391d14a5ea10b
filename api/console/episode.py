"""The alerts of a fingerprint after a given one (its episode's continuation, for the timeline)."""

from __future__ import annotations

from alertstream.api.history import ALERT_COLUMNS, Conn, alert_model
from alertstream.api.models import Alert

LATER = 50


async def later_alerts(conn: Conn, alert: Alert, limit: int = LATER) -> list[Alert]:
    """Oldest first, up to and including the first resolve (same tenant: a fingerprint includes it)."""
    rows = await (
        await conn.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE fingerprint = %s AND tenant = %s"  # noqa: S608
            " AND (last_seen, alert_id) > (%s, %s) ORDER BY last_seen, alert_id LIMIT %s",
            (alert.fingerprint, alert.tenant, alert.last_seen, alert.alert_id, limit),
        )
    ).fetchall()
    out: list[Alert] = []
    for r in rows:
        out.append(alert_model(r))
        if r["status"] == "resolved":
            break
    return out
