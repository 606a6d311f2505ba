-- Foundation: tenants, staff, programs with versioned terms, portal domains, API keys,
-- login tokens, login throttling and the audit log.
-- Portable SQL for SQLite and PostgreSQL: TEXT ids, BIGINT unix-millisecond times,
-- INTEGER 0/1 booleans, JSON as TEXT. Unique indexes are named ux_<table>__<field> so a
-- violation maps to the field (see db::unique_violation_field).

-- One row once the first-run setup has claimed the installation.
CREATE TABLE installation (
    id INTEGER PRIMARY KEY,
    setup_at BIGINT NOT NULL
);

CREATE TABLE vendors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    default_currency TEXT NOT NULL,
    primary_color TEXT NOT NULL DEFAULT '#4f46e5',
    support_email TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_vendors__slug ON vendors (slug);

-- Custom portal host names, e.g. affiliates.acme.com. Stored lower case, without port.
CREATE TABLE vendor_domains (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT
);
CREATE UNIQUE INDEX ux_vendor_domains__host ON vendor_domains (host);
CREATE INDEX ix_vendor_domains__vendor ON vendor_domains (vendor_id);

-- Staff accounts. An email identifies one staff account across the installation, so the
-- shared dashboard host can sign anyone in without asking which vendor first.
CREATE TABLE vendor_users (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login_at BIGINT
);
CREATE UNIQUE INDEX ux_vendor_users__email ON vendor_users (LOWER(email));
CREATE INDEX ix_vendor_users__vendor ON vendor_users (vendor_id);

CREATE TABLE programs (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    currency TEXT NOT NULL,
    landing_url TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    is_default INTEGER NOT NULL DEFAULT 0,
    holding_period_days BIGINT NOT NULL DEFAULT 30,
    min_payout_cents BIGINT NOT NULL DEFAULT 5000,
    cookie_duration_days BIGINT NOT NULL DEFAULT 30,
    attribution_model TEXT NOT NULL DEFAULT 'last_touch',
    attribution_window_days BIGINT NOT NULL DEFAULT 30,
    auto_approve INTEGER NOT NULL DEFAULT 0,
    allow_self_referral INTEGER NOT NULL DEFAULT 0,
    terms_text TEXT NOT NULL DEFAULT '',
    current_terms_version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_programs__slug ON programs (vendor_id, slug);

-- Commission terms, one row per version; enrollments keep the version they activated under.
CREATE TABLE program_terms (
    program_id TEXT NOT NULL REFERENCES programs (id),
    version BIGINT NOT NULL,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    commission TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (program_id, version)
);

-- Vendor API keys: only a SHA-256 of the key is stored; the prefix identifies it in lists.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX ux_api_keys__key_hash ON api_keys (key_hash);
CREATE INDEX ix_api_keys__vendor ON api_keys (vendor_id);

-- Single-use tokens behind magic links, invites and password resets; stored hashed.
CREATE TABLE login_tokens (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    purpose TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_login_tokens__token_hash ON login_tokens (token_hash);

-- Failed sign-ins, counted per (email, client) over a sliding window. Kept in the database so
-- that every instance behind a load balancer sees the same count.
CREATE TABLE login_failures (
    id TEXT PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX ix_login_failures__key_at ON login_failures (throttle_key, at);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_audit_log__vendor_time ON audit_log (vendor_id, created_at);
