-- The alert lifecycle (streams/lifecycle.py): what each Alert record tells its receivers — `notify` (a
-- firing or resolved notification), `acknowledged` / `unacknowledged` (a user acted on the open alert),
-- `suppressed` (held back: details.suppression names the silence, inhibit rule or time interval). Rows
-- written before are notifications.
ALTER TABLE alerts ADD COLUMN event text NOT NULL DEFAULT 'notify';
CREATE INDEX alerts_open_idx ON alerts (tenant, fingerprint, last_seen DESC) WHERE status = 'firing';
CREATE INDEX audit_log_fingerprint_idx ON audit_log (fingerprint, at);
