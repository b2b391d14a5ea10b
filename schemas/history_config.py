"""Config model of the history the store keeps in PostgreSQL (``history:`` in the config file).

Retention is per table, in days, measured on each table's own time column (the column its
retention index covers), so deleting is a batched, indexed range delete rather than a scan. The
audit log is measured on ``recorded_at`` and can never lose a row younger than a day: the
database refuses it (``alertstream_expire_audit``), whatever this file says.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionDays(_Strict):
    """Days a row is kept, per table (and the time column it is measured on)."""

    alerts: int = Field(default=90, ge=1, le=36_500, description="alerts.last_seen")
    delivery_outcomes: int = Field(default=90, ge=1, le=36_500, description="delivery_outcomes.at")
    notifications: int = Field(default=90, ge=1, le=36_500, description="notifications.last_at")
    dlq_entries: int = Field(default=180, ge=1, le=36_500, description="dlq_entries.dead_lettered_at")
    audit_log: int = Field(default=400, ge=1, le=36_500, description="audit_log.recorded_at")
    #: The idempotency keys of sent deliveries: a DLQ task older than this may notify again on replay.
    delivery_ledger: int = Field(default=400, ge=1, le=36_500, description="delivery_ledger.sent_at")


class HistorySection(_Strict):
    retention: RetentionDays = Field(default_factory=RetentionDays)
    #: How often the store runs a retention pass.
    retention_interval_seconds: float = Field(default=300.0, ge=1, le=86_400)
    #: Rows per DELETE (one short transaction each; the pass loops until a table has nothing older).
    delete_batch_rows: int = Field(default=5000, ge=100, le=100_000)
