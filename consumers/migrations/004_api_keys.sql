-- API keys of `alertstream api` (`alertstream api-keys create|list|revoke`). A key is
-- `ask_<key_id>_<secret>`; only the SHA-256 of the whole key is kept, so the table never holds a usable key.
-- tenant NULL = an admin key (every tenant); otherwise the key sees that one tenant only.
CREATE TABLE api_keys (
    key_id         text PRIMARY KEY,
    secret_sha256  bytea NOT NULL CHECK (length(secret_sha256) = 32),
    tenant         text,
    name           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

GRANT SELECT, INSERT, UPDATE ON api_keys TO alertstream_app;
