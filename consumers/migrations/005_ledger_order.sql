-- The order of one alert's notifications to one receiver (consumers/README.md, "Order per alert"):
-- each ledger row keeps the alert's last_seen, the evaluator's order for its fingerprint, so a
-- notification older than one already delivered to the same receiver is never sent after it,
-- whichever process (or restart) handles it. Rows written before this migration have NULL.
ALTER TABLE delivery_ledger ADD COLUMN IF NOT EXISTS alert_last_seen bigint;
CREATE INDEX IF NOT EXISTS delivery_ledger_order_idx
    ON delivery_ledger (fingerprint, receiver, channel, alert_last_seen);
