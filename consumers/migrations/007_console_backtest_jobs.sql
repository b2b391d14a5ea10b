-- Backtest jobs of `POST /api/v1/backtest` (admin keys): one row per job, written by the API process
-- that runs it (`alertstream backtest --json` as a child process) and read by any API process, so
-- `GET /api/v1/backtest/{id}` answers wherever a load balancer sends it. Finished jobs older than a
-- week are deleted when a new one is created.
CREATE TABLE IF NOT EXISTS backtest_jobs (
    job_id        text PRIMARY KEY,
    requested_by  text NOT NULL,                 -- api-key:<key id>
    state         text NOT NULL,                 -- queued, running, done, failed
    window_spec   jsonb NOT NULL,                -- from, to, tenant, warmup
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    error         text,
    report        jsonb,                         -- the JSON report
    report_html   text                           -- the self-contained HTML report
);
CREATE INDEX IF NOT EXISTS backtest_jobs_created_idx ON backtest_jobs (created_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON backtest_jobs TO alertstream_app;
