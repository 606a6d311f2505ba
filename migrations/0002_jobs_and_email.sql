-- Background jobs and the email outbox.

-- Generic job queue. A worker claims due jobs by setting a lease (lease_until in the future);
-- a crashed worker's lease expires and another worker retries the job. `attempts` counts
-- claims, so a job that crashes its worker also uses up attempts.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    vendor_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_jobs__due ON jobs (status, run_at);

-- Every email, written in the same transaction as the change that causes it. The rendered
-- subject and bodies are stored, so what is sent (and shown in the dev mailbox) is exactly
-- what was decided at that moment.
CREATE TABLE email_outbox (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    kind TEXT NOT NULL,
    to_email TEXT NOT NULL,
    to_name TEXT,
    from_name TEXT NOT NULL,
    from_email TEXT NOT NULL,
    reply_to TEXT,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    message_id TEXT NOT NULL,
    list_unsubscribe TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at BIGINT,
    sent_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_email_outbox__vendor_time ON email_outbox (vendor_id, created_at);
