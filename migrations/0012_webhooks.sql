-- Outbound webhooks: the vendor's endpoints, one delivery per endpoint and event (an outbox
-- the job worker drains), and one row per attempt (the delivery log).

-- Events are fanned out to endpoints by the worker: a lease like the jobs table's, and a
-- flag set in the same transaction as the delivery rows.
ALTER TABLE events ADD COLUMN fanned_out INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN fanout_lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX ix_events__fanout ON events (fanned_out, created_at);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON array of event types; NULL means every event.
    event_types TEXT,
    -- `whsec_` + base64; needed in clear to sign, never shown again after creation.
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    -- First failed attempt since the last success (NULL while healthy).
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_webhook_endpoints__vendor ON webhook_endpoints (vendor_id, created_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    -- The event id (`evt_...`), the body's `id` and `webhook-id`: stable across retries.
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- The event's `data` object (JSON) and time, copied so the body never changes.
    payload TEXT NOT NULL,
    event_created_at BIGINT NOT NULL,
    -- pending | succeeded | failed
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    -- 1 after a manual redelivery: one attempt, no automatic retries.
    manual INTEGER NOT NULL DEFAULT 0,
    last_status_code BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One delivery per endpoint and event, whichever worker fans it out.
CREATE UNIQUE INDEX ux_webhook_deliveries__endpoint_event ON webhook_deliveries (endpoint_id, event_id);
CREATE INDEX ix_webhook_deliveries__due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX ix_webhook_deliveries__endpoint_time ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    -- NULL when no answer came (timeout, refused connection, blocked address).
    status_code BIGINT,
    latency_ms BIGINT NOT NULL,
    -- At most 1 KiB of the answer.
    response_excerpt TEXT,
    error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_webhook_attempts__delivery ON webhook_attempts (delivery_id, created_at);
