-- History for the API: one row per notification (delivery), DLQ entries, and the indexes behind the
-- API's filters, keyset pagination and the store's time-based retention.

-- One outcome row per record of `alerts.deliveries`. The idempotency key gains `at`: a replayed DLQ
-- task starts again at attempt 1, and its outcomes (e.g. `retrying` at attempt 1) used to collide with
-- the first run's and were dropped. A re-read of the same record has the same `at` and is still a no-op.
ALTER TABLE delivery_outcomes DROP CONSTRAINT delivery_outcomes_pkey;
ALTER TABLE delivery_outcomes ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE delivery_outcomes ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX delivery_outcomes_record_key ON delivery_outcomes (delivery_id, attempt, outcome, at);
CREATE INDEX delivery_outcomes_page_idx ON delivery_outcomes (at DESC, id DESC);
CREATE INDEX delivery_outcomes_tenant_page_idx ON delivery_outcomes (tenant, at DESC, id DESC);
CREATE INDEX delivery_outcomes_channel_idx ON delivery_outcomes (channel, at DESC);

-- What the evaluator decided (details.reason: new, escalated, repeat, regroup, cleared) and, once the
-- Alert record carries it, the per-reason breakdown of the suppressions folded into the alert.
ALTER TABLE alerts ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN suppressed_by_reason jsonb;

-- Keyset pagination orders by (last_seen DESC, alert_id DESC); one index per common first filter.
DROP INDEX IF EXISTS alerts_fingerprint_idx;
DROP INDEX IF EXISTS alerts_tenant_idx;
CREATE INDEX alerts_page_idx ON alerts (last_seen DESC, alert_id DESC);
CREATE INDEX alerts_tenant_page_idx ON alerts (tenant, last_seen DESC, alert_id DESC);
CREATE INDEX alerts_tenant_severity_idx ON alerts (tenant, severity, last_seen DESC, alert_id DESC);
CREATE INDEX alerts_tenant_rule_idx ON alerts (tenant, rule_id, last_seen DESC, alert_id DESC);
CREATE INDEX alerts_fingerprint_idx ON alerts (fingerprint, last_seen DESC, alert_id DESC);
CREATE INDEX alerts_routes_idx ON alerts USING gin (routes jsonb_path_ops);
CREATE INDEX alerts_text_idx ON alerts USING gin (to_tsvector('simple', summary || ' ' || entity));
CREATE INDEX alerts_emitted_idx ON alerts (emitted_at);

-- One row per notification (delivery id = alert x receiver), derived from its outcome rows. The store
-- recomputes a row from delivery_outcomes for every delivery id a batch touched (never increments), so
-- re-reading or replaying the same outcomes leaves the counters exactly as they were.
CREATE TABLE notifications (
    delivery_id       text PRIMARY KEY,
    alert_id          text NOT NULL,
    tenant            text NOT NULL,
    fingerprint       text NOT NULL,
    channel           text NOT NULL,
    receiver          text NOT NULL,
    attempts          integer NOT NULL,   -- outcomes other than `duplicate`: sends tried
    outcomes          integer NOT NULL,   -- every outcome row
    state             text NOT NULL,      -- the latest outcome (by time)
    status_code       integer,            -- of the latest outcome
    reason            text,               -- of the latest outcome
    first_at          timestamptz NOT NULL,
    last_at           timestamptz NOT NULL,
    sent_at           timestamptz,        -- first `sent`
    dead_lettered_at  timestamptz         -- latest `dead_lettered` / `disabled`
);
CREATE INDEX notifications_alert_idx ON notifications (alert_id);
CREATE INDEX notifications_state_idx ON notifications (channel, state);
CREATE INDEX notifications_last_idx ON notifications (last_at);

-- Every record of an `alerts.<channel>.dlq` topic. entry_key: delivery id + attempt + dead-lettered-at
-- for a task, the topic coordinates for undecodable bytes (which carry no delivery id).
CREATE TABLE dlq_entries (
    entry_key         text PRIMARY KEY,
    channel           text NOT NULL,
    delivery_id       text,
    alert_id          text,
    tenant            text,
    fingerprint       text,
    receiver          text,
    severity          text,
    attempt           integer,
    reason            text NOT NULL,
    error             text,
    dead_lettered_at  timestamptz NOT NULL,
    source_partition  integer NOT NULL,
    source_offset     bigint NOT NULL
);
CREATE INDEX dlq_entries_channel_idx ON dlq_entries (channel, dead_lettered_at);
CREATE INDEX dlq_entries_alert_idx ON dlq_entries (alert_id);
CREATE INDEX dlq_entries_at_idx ON dlq_entries (dead_lettered_at);

CREATE INDEX IF NOT EXISTS delivery_ledger_sent_idx ON delivery_ledger (sent_at);
