-- Affiliates (people or companies, per vendor) and their enrollments in programs.

CREATE TABLE affiliates (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    company TEXT,
    website TEXT,
    -- invited | active | paused | banned | deactivated (deactivated = soft-deleted)
    status TEXT NOT NULL,
    customer_id TEXT,
    external_source TEXT,
    external_id TEXT,
    payout_method TEXT,
    payout_email TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    parent_affiliate_id TEXT,
    activated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_affiliates__email ON affiliates (vendor_id, LOWER(email));
CREATE UNIQUE INDEX ux_affiliates__external_id ON affiliates (vendor_id, external_source, external_id);
CREATE INDEX ix_affiliates__customer ON affiliates (vendor_id, customer_id);
CREATE INDEX ix_affiliates__vendor_created ON affiliates (vendor_id, created_at);

-- Affiliate x program. The referral code is unique across the installation (stored lower
-- case) so /r/{code} resolves on any host. terms_version is the program terms version the
-- enrollment joined under; commission_override (commission JSON) replaces it when set.
CREATE TABLE enrollments (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    commission_override TEXT,
    terms_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_enrollments__code ON enrollments (code);
CREATE UNIQUE INDEX ux_enrollments__program ON enrollments (program_id, affiliate_id);
CREATE INDEX ix_enrollments__affiliate ON enrollments (affiliate_id);
