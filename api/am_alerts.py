"""``GET /api/v2/alerts``: the current alerts from the history, in Alertmanager's shape.

Current = the latest record of each fingerprint is ``firing`` (a resolve, or the end-time
resolution of a received alert, is the latest record once the alert ended). Only fingerprints with
a record in the last :data:`HORIZON` count: no state outlives its group window (at most 30 days),
so an older ``firing`` record belongs to an episode the worker has long forgotten.

Label sets: a received alert (``details.source == "external"``) shows the labels it was sent with;
an alertstream rule's alert shows :func:`alertstream.schemas.matchers.alert_labels` (its event
labels plus ``alertname``, ``rule``, ``tenant``, ``severity``, ``entity``). Filters are
Alertmanager's: ``filter`` matchers on that label set, ``receiver`` a regex (anchored) over the
receivers the alert was routed to, ``active``/``silenced``/``inhibited``/``unprocessed`` on its
state (:func:`status_of`). :func:`grouped` gives ``/api/v2/alerts/groups``.

State, as Alertmanager reports it: ``suppressed`` when an active silence matches the alert's label
set *now* (``silencedBy``: their ids, from this process's view of the silences topic — the same
matching the worker does, so a silence created after the alert notified shows at once), or when the
latest record of the fingerprint is a notification the lifecycle held (``event = suppressed``) for
an inhibit rule (``inhibitedBy``: the rule's name — Alertmanager names the inhibiting alerts'
fingerprints; alertstream's record names the rule that matched) or a time interval (``mutedBy``:
the interval's name). Otherwise ``active``; an acknowledged alert is active (Alertmanager has no
acknowledgement). A held alert has not been routed yet, so it lists no receivers and is in no group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from alertstream.api.am_models import AlertGroup, AmAlertStatus, AmReceiver, GettableAlert
from alertstream.api.history import Conn
from alertstream.schemas.matchers import Matcher, alert_labels, matches_all
from alertstream.schemas.silences import Silence

HORIZON = timedelta(days=30)
#: Go's zero time: Alertmanager's "no end" (and what its clients parse as such).
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_COLUMNS = "alert_id, tenant, rule_id, status, severity, fingerprint, entity, summary, details, labels, routes,"
_COLUMNS += " first_seen, last_seen, emitted_at, event"


@dataclass(frozen=True)
class AlertQuery:
    matchers: tuple[Matcher, ...] = ()
    receiver: re.Pattern[str] | None = None
    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    unprocessed: bool = True
    muted: bool = True


def _ms(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**53:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def status_of(row: dict[str, Any], silences: Sequence[Silence] | None, now_ms: int) -> AmAlertStatus:
    """The Alertmanager state of a current alert: live silences (None: this process follows no
    silences topic, so the latest record's silence stands), the latest record's inhibition or mute."""
    details = row["details"] if isinstance(row["details"], dict) else {}
    hold = details.get("suppression") if row.get("event") == "suppressed" else None
    hold = hold if isinstance(hold, dict) else {}
    reason = hold.get("reason")
    if silences is not None:
        labels = alert_labels(row)
        silenced = sorted(s.id for s in silences if s.mutes(labels, now_ms))
    else:
        silenced = [str(hold.get("silence_id"))] if reason == "silenced" else []
    inhibited = [str(hold.get("inhibit_rule"))] if reason == "inhibited" else []
    muted = [str(hold.get("time_interval"))] if reason == "muted" else []
    state: Literal["active", "suppressed"] = "suppressed" if silenced or inhibited or muted else "active"
    return AmAlertStatus(state=state, silencedBy=silenced, inhibitedBy=inhibited, mutedBy=muted)


def gettable(row: dict[str, Any], silences: Sequence[Silence] | None = None, now_ms: int = 0) -> GettableAlert:
    """One history row (the latest of its fingerprint) as Alertmanager's ``gettableAlert``."""
    details = row["details"] if isinstance(row["details"], dict) else {}
    receivers = [str(r.get("receiver", "")) for r in row["routes"] or [] if isinstance(r, dict)]
    updated = row["emitted_at"] or row["last_seen"]
    if details.get("source") == "external":
        labels = _strings(row["labels"])
        annotations = _strings(details.get("annotations"))
        starts = _ms(details.get("starts_at")) or row["first_seen"]
        ends = _ms(details.get("ends_at")) or ZERO_TIME
        url = str(details.get("generator_url") or "")
    else:
        labels = alert_labels(row)
        annotations = {"summary": str(row["summary"])}
        starts, ends, url = row["first_seen"], ZERO_TIME, ""
    return GettableAlert(
        labels=labels,
        annotations=annotations,
        receivers=[AmReceiver(name=r) for r in dict.fromkeys(receivers)],
        fingerprint=row["fingerprint"],
        startsAt=starts,
        updatedAt=updated,
        endsAt=ends,
        generatorURL=url,
        status=status_of(row, silences, now_ms),
    )


def _wanted(alert: GettableAlert, q: AlertQuery) -> bool:
    status = alert.status
    # Alertmanager filters on its marker's state, in which a time-interval mute is not a
    # suppression (it shows ``suppressed`` only in the answer): a muted alert counts as active here
    active = status.state == "active" or (status.state == "suppressed" and not status.silencedBy + status.inhibitedBy)
    if not q.active and active:
        return False
    if not q.unprocessed and status.state == "unprocessed":
        return False
    if not q.silenced and status.silencedBy:
        return False
    if not q.inhibited and status.inhibitedBy:
        return False
    if not q.muted and status.mutedBy:
        return False
    if q.receiver is not None and not any(q.receiver.match(r.name) for r in alert.receivers):
        return False
    return matches_all(q.matchers, alert.labels)


def grouped(alerts: list[GettableAlert]) -> list[AlertGroup]:
    """``GET /api/v2/alerts/groups``: the current alerts by receiver and ``alertname``, as an
    Alertmanager whose every route has ``group_by: [alertname]``. An alert routed to two receivers
    is in a group of each; one routed nowhere is in none. Groups by receiver, then alertname."""
    groups: dict[tuple[str, str], list[GettableAlert]] = {}
    for alert in alerts:
        for receiver in alert.receivers:
            groups.setdefault((receiver.name, alert.labels.get("alertname", "")), []).append(alert)
    return [
        AlertGroup(
            labels={"alertname": name} if name else {},
            receiver=AmReceiver(name=receiver),
            alerts=members,
        )
        for (receiver, name), members in sorted(groups.items())
    ]


async def current_alerts(
    conn: Conn, scope: str | None, q: AlertQuery, now: datetime, silences: Sequence[Silence] | None = None
) -> list[GettableAlert]:
    """The current alerts of ``scope`` (None: every tenant) that pass ``q``, by fingerprint;
    ``silences``: the silences in force as this process knows them (None: not followed)."""
    params: list[Any] = [now - HORIZON]
    where = "last_seen >= %s"
    if scope is not None:
        where += " AND tenant = %s"
        params.append(scope)
    sql = (
        f"SELECT * FROM (SELECT DISTINCT ON (fingerprint) {_COLUMNS} FROM alerts WHERE {where}"  # noqa: S608
        " ORDER BY fingerprint, last_seen DESC, alert_id DESC) latest WHERE status = 'firing' ORDER BY fingerprint"
    )
    rows = await (await conn.execute(sql, params)).fetchall()
    now_ms = int(now.timestamp() * 1000)
    out = []
    for row in rows:
        alert = gettable(row, silences, now_ms)
        if _wanted(alert, q):
            out.append(alert)
    return out
