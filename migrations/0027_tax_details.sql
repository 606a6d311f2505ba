-- Accounting export and tax details (issue 23).
--
-- The tax details an affiliate gives for the vendor's year-end reporting: legal name,
-- country (ISO 3166-1 alpha-2) and tax id. One row per affiliate; no row: not given.
CREATE TABLE tax_details (
    affiliate_id TEXT PRIMARY KEY REFERENCES affiliates (id),
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    legal_name TEXT NOT NULL,
    country TEXT NOT NULL,
    tax_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_tax_details__vendor ON tax_details (vendor_id);

-- A program may hold payouts until the affiliate has given its tax details
-- (skipped as `tax_details_missing`). 0 = not required.
ALTER TABLE programs ADD COLUMN require_tax_details INTEGER NOT NULL DEFAULT 0;
