"""Retention of the history tables, run by the store on a thread of its own.

Per table: ``DELETE … WHERE key IN (SELECT key … WHERE <time column> < cutoff ORDER BY <time
column> LIMIT n)`` in its own short transaction, repeated until a batch comes back short. Every
time column has an index, so a pass touches only the expired rows and never holds a long lock.
The audit log is expired only through ``alertstream_expire_audit`` (a SECURITY DEFINER function:
the application's role cannot DELETE from it, and the function refuses anything younger than a day).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from prometheus_client import Counter as PromCounter

from alertstream.schemas.history_config import HistorySection

log = logging.getLogger(__name__)

RETENTION_DELETED = PromCounter(
    "alertstream_store_retention_deleted", "History rows deleted by retention, per table.", ["table"]
)

#: table -> (time column, key column); the audit log has its own function.
TABLES: dict[str, tuple[str, str]] = {
    "alerts": ("last_seen", "alert_id"),
    "delivery_outcomes": ("at", "id"),
    "notifications": ("last_at", "delivery_id"),
    "dlq_entries": ("dead_lettered_at", "entry_key"),
    "delivery_ledger": ("sent_at", "delivery_id"),
}


def retention_pass(conn: psycopg.Connection[Any], history: HistorySection, now: datetime | None = None) -> Counter[str]:
    """Delete every row older than its table's retention; returns rows deleted per table.

    ``conn`` must be in autocommit mode: each batch commits on its own."""
    now = now or datetime.now(UTC)
    batch = history.delete_batch_rows
    deleted: Counter[str] = Counter()
    days = history.retention.model_dump()
    for table, (column, key) in TABLES.items():
        cutoff = now - timedelta(days=days[table])
        sql = (
            f"DELETE FROM {table} WHERE {key} IN"  # noqa: S608 - names are constants of this module
            f" (SELECT {key} FROM {table} WHERE {column} < %s ORDER BY {column} LIMIT %s)"
        )
        while True:
            n = conn.execute(sql, (cutoff, batch)).rowcount
            deleted[table] += n
            if n < batch:
                break
    cutoff = now - timedelta(days=days["audit_log"])
    while True:
        row = conn.execute("SELECT alertstream_expire_audit(%s, %s)", (cutoff, batch)).fetchone()
        n = int(row[0]) if row else 0
        deleted["audit_log"] += n
        if n < batch:
            break
    for table, n in deleted.items():
        if n:
            RETENTION_DELETED.labels(table=table).inc(n)
    return deleted


class Retention:
    """Runs :func:`retention_pass` at start and then every ``retention_interval_seconds``."""

    def __init__(self, dsn: str, history: HistorySection) -> None:
        self._dsn = dsn
        self._history = history
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-retention", daemon=True)
        self.passes = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    deleted = retention_pass(conn, self._history)
                if any(deleted.values()):
                    log.info("store retention: deleted %s", dict(deleted))
            except psycopg.Error as exc:  # the next pass tries again; writing history goes on
                log.warning("store retention pass failed: %s", type(exc).__name__)
            self.passes += 1
            self._stop.wait(max(0.0, self._history.retention_interval_seconds - (time.monotonic() - started)))
