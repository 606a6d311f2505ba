-- The branded affiliate portal: vendor branding and origins, the logo, affiliates'
-- personal API tokens, and the lookup behind magic-link throttling.

-- Name shown on the portal and in emails (the vendor name when NULL).
ALTER TABLE vendors ADD COLUMN portal_name TEXT;
-- Time the current logo was stored (unix ms), NULL without a logo; also its cache-buster.
ALTER TABLE vendors ADD COLUMN logo_version BIGINT;
-- JSON arrays of origins (`https://app.acme.com`): who may frame the embeds, and who may
-- call the publishable-key endpoints from a browser.
ALTER TABLE vendors ADD COLUMN embed_origins TEXT NOT NULL DEFAULT '[]';
ALTER TABLE vendors ADD COLUMN site_origins TEXT NOT NULL DEFAULT '[]';

-- The vendor's logo, checked and (for SVG) sanitised on upload; base64 in TEXT so the same
-- column type works on both databases, and every instance serves the same bytes.
CREATE TABLE vendor_logos (
    vendor_id TEXT PRIMARY KEY REFERENCES vendors (id),
    content_type TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Personal tokens an affiliate creates in the portal for the self-service API. Only a
-- SHA-256 of the token is stored; revocable; scoped to one affiliate of one vendor.
CREATE TABLE affiliate_api_tokens (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX ux_affiliate_api_tokens__token_hash ON affiliate_api_tokens (token_hash);
CREATE INDEX ix_affiliate_api_tokens__affiliate ON affiliate_api_tokens (vendor_id, affiliate_id, created_at);


-- Applicants look up their applications by email (the portal's status page).
CREATE INDEX ix_applications__email ON applications (vendor_id, LOWER(email));
