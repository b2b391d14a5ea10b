"""Writes a batch of :class:`StoreItem` to PostgreSQL so that no record can stall it.

One transaction per batch; each table gets one multi-row ``INSERT … SELECT FROM unnest(…) ON
CONFLICT DO NOTHING`` (a round trip per table, not per row). When PostgreSQL refuses a row — a
NUL character in a text value, a constraint, a value over an index limit — the batch's savepoint is
rolled back and the batch is split in halves, recursively, until the refused records are alone:
those come back as :class:`Unwritable` (reason ``db_refused``) and everything else is written in
the same transaction. One bad record in 1,000 costs about 20 extra statements. Errors that are not
about a row (connection lost, missing table) propagate: the store stops and re-reads the batch.

After the inserts, the ``notifications`` row of every delivery id the batch touched is recomputed
from ``delivery_outcomes`` (an upsert of aggregates, never an increment), so a replayed outcome
leaves every counter exactly where it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors

from alertstream.consumers.store_records import MAX_DETAIL_CHARS, StoreItem, Unwritable

#: Errors about the rows themselves: the record is set aside, the batch goes on.
RECORD_ERRORS: tuple[type[Exception], ...] = (psycopg.DataError, psycopg.IntegrityError, errors.ProgramLimitExceeded)


@dataclass(frozen=True)
class Table:
    name: str
    #: (column, PostgreSQL type); jsonb columns travel as text and are cast in the SELECT
    columns: tuple[tuple[str, str], ...]
    conflict: str

    def insert_sql(self) -> str:
        names = ", ".join(c for c, _ in self.columns)
        arrays = ", ".join(f"%s::{'text' if t == 'jsonb' else t}[]" for _, t in self.columns)
        select = ", ".join(f"u.{c}::jsonb" if t == "jsonb" else f"u.{c}" for c, t in self.columns)
        insert = f"INSERT INTO {self.name} ({names}) SELECT {select} FROM unnest({arrays}) AS u({names})"  # noqa: S608
        return f"WITH ins AS ({insert} ON CONFLICT {self.conflict} DO NOTHING RETURNING 1) SELECT count(*) FROM ins"  # noqa: S608


TABLES = {
    "alerts": Table(
        "alerts",
        (
            ("alert_id", "text"),
            ("tenant", "text"),
            ("rule_id", "text"),
            ("rule_version", "bigint"),
            ("status", "text"),
            ("severity", "text"),
            ("fingerprint", "text"),
            ("entity", "text"),
            ("summary", "text"),
            ("details", "jsonb"),
            ("labels", "jsonb"),
            ("value", "float8"),
            ("threshold", "float8"),
            ("occurrence_count", "bigint"),
            ("suppressed_count", "bigint"),
            ("first_seen", "timestamptz"),
            ("last_seen", "timestamptz"),
            ("emitted_at", "timestamptz"),
            ("event_ids", "jsonb"),
            ("routes", "jsonb"),
            ("rate_limited", "boolean"),
            ("reason", "text"),
            ("suppressed_by_reason", "jsonb"),
            ("event", "text"),
        ),
        "(alert_id)",
    ),
    "delivery_outcomes": Table(
        "delivery_outcomes",
        (
            ("delivery_id", "text"),
            ("attempt", "integer"),
            ("outcome", "text"),
            ("alert_id", "text"),
            ("fingerprint", "text"),
            ("tenant", "text"),
            ("channel", "text"),
            ("receiver", "text"),
            ("status_code", "integer"),
            ("reason", "text"),
            ("latency_seconds", "float8"),
            ("at", "timestamptz"),
        ),
        "(delivery_id, attempt, outcome, at)",
    ),
    "dlq_entries": Table(
        "dlq_entries",
        (
            ("entry_key", "text"),
            ("channel", "text"),
            ("delivery_id", "text"),
            ("alert_id", "text"),
            ("tenant", "text"),
            ("fingerprint", "text"),
            ("receiver", "text"),
            ("severity", "text"),
            ("attempt", "integer"),
            ("reason", "text"),
            ("error", "text"),
            ("dead_lettered_at", "timestamptz"),
            ("source_partition", "integer"),
            ("source_offset", "bigint"),
        ),
        "(entry_key)",
    ),
    "audit_log": Table(
        "audit_log",
        (
            ("at", "timestamptz"),
            ("actor", "text"),
            ("action", "text"),
            ("reason", "text"),
            ("tenant", "text"),
            ("alert_id", "text"),
            ("fingerprint", "text"),
            ("delivery_id", "text"),
            ("details", "jsonb"),
            ("source_key", "text"),
        ),
        "(source_key)",
    ),
}

_RECOMPUTE_NOTIFICATIONS = """
INSERT INTO notifications (delivery_id, alert_id, tenant, fingerprint, channel, receiver, attempts, outcomes,
    state, status_code, reason, first_at, last_at, sent_at, dead_lettered_at)
SELECT DISTINCT ON (o.delivery_id) o.delivery_id, o.alert_id, o.tenant, o.fingerprint, o.channel, o.receiver,
    count(*) FILTER (WHERE o.outcome <> 'duplicate') OVER w, count(*) OVER w,
    o.outcome, o.status_code, o.reason, min(o.at) OVER w, max(o.at) OVER w,
    min(o.at) FILTER (WHERE o.outcome = 'sent') OVER w,
    max(o.at) FILTER (WHERE o.outcome IN ('dead_lettered', 'disabled')) OVER w
FROM delivery_outcomes o
WHERE o.delivery_id = ANY(%s)
WINDOW w AS (PARTITION BY o.delivery_id)
ORDER BY o.delivery_id, o.at DESC, o.id DESC
ON CONFLICT (delivery_id) DO UPDATE SET
    attempts = EXCLUDED.attempts, outcomes = EXCLUDED.outcomes, state = EXCLUDED.state,
    status_code = EXCLUDED.status_code, reason = EXCLUDED.reason, first_at = EXCLUDED.first_at,
    last_at = EXCLUDED.last_at, sent_at = EXCLUDED.sent_at, dead_lettered_at = EXCLUDED.dead_lettered_at
"""


@dataclass
class WriteResult:
    #: items whose rows are in the database now (inserted now or already there)
    stored: list[StoreItem] = field(default_factory=list)
    rejected: list[Unwritable] = field(default_factory=list)
    #: rows inserted now, per table of the items (``replays``: audit-only items); a re-read inserts nothing
    inserted: Counter[str] = field(default_factory=Counter)
    statements: int = 0


def describe(exc: Exception) -> str:
    """A short, value-free reason: the SQLSTATE and the class, never the offending data."""
    sqlstate = getattr(exc, "sqlstate", None)
    text = f"{type(exc).__name__}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
    return text[:MAX_DETAIL_CHARS]


def write_batch(conn: psycopg.Connection[Any], items: Sequence[StoreItem]) -> WriteResult:
    """Write ``items`` in one transaction; refused records are returned, not raised."""
    result = WriteResult()
    if not items:
        return result
    with conn.transaction(), conn.cursor() as cur:
        _attempt(cur, list(items), result)
        touched = sorted({i.delivery_id for i in result.stored if i.delivery_id is not None})
        if touched:
            cur.execute(_RECOMPUTE_NOTIFICATIONS, (touched,))
            result.statements += 1
    return result


def _attempt(cur: psycopg.Cursor[Any], chunk: list[StoreItem], result: WriteResult) -> None:
    try:
        with cur.connection.transaction():  # a savepoint inside the batch's transaction
            inserted = _insert(cur, chunk, result)
    except RECORD_ERRORS as exc:
        if len(chunk) == 1:
            result.rejected.append(Unwritable(chunk[0].source, "db_refused", describe(exc)))
            return
        middle = len(chunk) // 2
        _attempt(cur, chunk[:middle], result)
        _attempt(cur, chunk[middle:], result)
        return
    result.stored.extend(chunk)
    result.inserted.update(inserted)


def _insert(cur: psycopg.Cursor[Any], chunk: list[StoreItem], result: WriteResult) -> Counter[str]:
    """Insert the chunk's rows; returns rows inserted per item table (``replays`` = audit-only items,
    ``audit_log`` = the audit rows derived from the other items)."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in (*TABLES, "replays")}
    for item in chunk:
        if item.row is not None:
            rows[item.table].append(item.row)
        if item.audit is not None:
            rows["audit_log" if item.row is not None else "replays"].append(item.audit)
    inserted: Counter[str] = Counter()
    for name, table_rows in rows.items():
        if not table_rows:
            continue
        columns = [list(col) for col in zip(*table_rows, strict=True)]
        cur.execute(TABLES["audit_log" if name == "replays" else name].insert_sql(), columns)
        result.statements += 1
        row = cur.fetchone()
        inserted[name] = int(row[0]) if row else 0
    return inserted
