-- The audit log (append-only) and the application's database role.
--
-- Roles: whoever runs `alertstream db migrate` (the migration role) owns the tables. Migrations create
-- the NOLOGIN role `alertstream_app` with exactly the privileges the processes need; an operator grants
-- it to the login role the processes connect as (`GRANT alertstream_app TO alertstream;`). That role
-- can read and append the audit log, never UPDATE, DELETE or TRUNCATE it. Creating the role needs
-- CREATEROLE once per cluster; every later migration only grants.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alertstream_app') THEN
        CREATE ROLE alertstream_app NOLOGIN;
    END IF;
END
$$;

-- One row per state change of an alert the history sees (fired, resolved, notified, retrying,
-- dead_lettered, replayed, duplicate_suppressed) and per administrative write (API keys, later the
-- API's writes). `at` is when the change happened, `recorded_at` when it was written. `source_key`
-- makes rows the store derives from Kafka records idempotent on replay; other writers leave it NULL.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    reason       text,
    tenant       text,
    alert_id     text,
    fingerprint  text,
    delivery_id  text,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    source_key   text UNIQUE
);
CREATE INDEX audit_log_alert_idx ON audit_log (alert_id, at);
CREATE INDEX audit_log_recorded_idx ON audit_log (recorded_at);

-- Defence in depth beside the grants: no UPDATE ever, and DELETE/TRUNCATE only by the table's owner,
-- DELETE only of rows recorded more than a day ago (what retention does, through the function below).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner name := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID);
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_log is append-only: UPDATE refused' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF current_user <> owner THEN
        RAISE EXCEPTION 'audit_log is append-only: % refused for %', TG_OP, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' AND OLD.recorded_at > now() - interval '1 day' THEN
        RAISE EXCEPTION 'audit_log rows recorded less than a day ago are never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Retention of the audit log: the only way the application deletes audit rows. SECURITY DEFINER
-- (runs as the owner), refuses a cutoff younger than a day, deletes at most `batch` rows per call.
DO $do$
BEGIN
    EXECUTE format(
        $f$CREATE FUNCTION alertstream_expire_audit(cutoff timestamptz, batch integer) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
        DECLARE
            deleted integer;
        BEGIN
            IF cutoff > now() - interval '1 day' THEN
                RAISE EXCEPTION 'audit rows recorded less than a day ago are never expired (cutoff %%)', cutoff
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            DELETE FROM audit_log WHERE id IN (
                SELECT id FROM audit_log WHERE recorded_at < cutoff ORDER BY recorded_at LIMIT batch);
            GET DIAGNOSTICS deleted = ROW_COUNT;
            RETURN deleted;
        END
        $body$
        $f$,
        current_schema());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO alertstream_app', current_schema());
END
$do$;
REVOKE ALL ON FUNCTION alertstream_expire_audit(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alertstream_expire_audit(timestamptz, integer) TO alertstream_app;

GRANT SELECT ON alertstream_migrations TO alertstream_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON delivery_ledger, alerts, delivery_outcomes, notifications, dlq_entries
    TO alertstream_app;
GRANT SELECT, INSERT ON audit_log TO alertstream_app;
