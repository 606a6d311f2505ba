-- Kernel consumers (seed 000): embedded integrations of a vendor that sign HS256 JWTs.
-- The name is the JWT `iss` and identifies the consumer across the installation, so it is
-- unique installation-wide (stored lower case). The signing secret is not stored: it is
-- derived from the installation secret key and `secret_seed` (see
-- domain::tenancy::consumers), so a copy of the database alone cannot forge tokens.
-- Rate limits per minute: NULL = the vendor's / installation's default.
CREATE TABLE consumers (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    name TEXT NOT NULL,
    external_source TEXT NOT NULL,
    secret_seed TEXT NOT NULL,
    secret_prefix TEXT NOT NULL,
    read_limit_per_minute BIGINT,
    write_limit_per_minute BIGINT,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    secret_rotated_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX ux_consumers__name ON consumers (name);
CREATE INDEX ix_consumers__vendor ON consumers (vendor_id, created_at);
