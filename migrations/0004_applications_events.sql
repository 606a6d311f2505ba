-- Applications to join a program, and the domain events that outbound webhooks will deliver.

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    company TEXT,
    website TEXT,
    reason TEXT,
    -- pending | approved | rejected
    status TEXT NOT NULL,
    rejection_reason TEXT,
    affiliate_id TEXT,
    -- api | portal
    source TEXT NOT NULL,
    reviewed_by TEXT,
    reviewed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One open (pending or approved) application per program and email; after a rejection the
-- person may apply again.
CREATE UNIQUE INDEX ux_applications__email ON applications (program_id, LOWER(email)) WHERE status <> 'rejected';
CREATE INDEX ix_applications__vendor_status ON applications (vendor_id, status, created_at);

-- Domain events, written in the same transaction as the change they describe.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_events__vendor_time ON events (vendor_id, created_at);
