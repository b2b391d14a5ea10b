-- Delivery ledger, alert history and delivery outcomes. Tables are created in the first schema of
-- the connection's search_path (a test or a tenant of a shared database can use its own schema).

-- One row per delivery (alert x destination) that reached its destination: the idempotency key
-- that keeps a redelivered Kafka message (crash before commit, replay) from notifying twice.
CREATE TABLE IF NOT EXISTS delivery_ledger (
    delivery_id  text PRIMARY KEY,
    channel      text NOT NULL,
    receiver     text NOT NULL,
    alert_id     text NOT NULL,
    fingerprint  text NOT NULL,
    tenant       text NOT NULL,
    attempt      integer NOT NULL,
    status_code  integer,
    sent_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS delivery_ledger_alert_idx ON delivery_ledger (alert_id);

-- Every alert record from `alerts` (sink: `alertstream store`), idempotent by alert_id.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id          text PRIMARY KEY,
    tenant            text NOT NULL,
    rule_id           text NOT NULL,
    rule_version      bigint NOT NULL,
    status            text NOT NULL,
    severity          text NOT NULL,
    fingerprint       text NOT NULL,
    entity            text NOT NULL,
    summary           text NOT NULL,
    details           jsonb NOT NULL,
    labels            jsonb NOT NULL,
    value             double precision,
    threshold         double precision,
    occurrence_count  bigint NOT NULL,
    suppressed_count  bigint NOT NULL,
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    emitted_at        timestamptz,
    event_ids         jsonb NOT NULL,
    routes            jsonb NOT NULL,
    rate_limited      boolean NOT NULL,
    stored_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alerts_fingerprint_idx ON alerts (fingerprint, last_seen DESC);
CREATE INDEX IF NOT EXISTS alerts_tenant_idx ON alerts (tenant, last_seen DESC);

-- Every delivery attempt's outcome (sent, retrying, dead_lettered, duplicate).
CREATE TABLE IF NOT EXISTS delivery_outcomes (
    delivery_id      text NOT NULL,
    attempt          integer NOT NULL,
    outcome          text NOT NULL,
    alert_id         text NOT NULL,
    fingerprint      text NOT NULL,
    tenant           text NOT NULL,
    channel          text NOT NULL,
    receiver         text NOT NULL,
    status_code      integer,
    reason           text,
    latency_seconds  double precision NOT NULL,
    at               timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, attempt, outcome)
);
CREATE INDEX IF NOT EXISTS delivery_outcomes_alert_idx ON delivery_outcomes (alert_id);
