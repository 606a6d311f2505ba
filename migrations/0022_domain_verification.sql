-- Portal-domain ownership (issue 21): a domain a vendor adds is pending until the server
-- finds the TXT record `_affilia-challenge.<host>` = `affilia-verify=<token>`; only
-- verified domains serve a portal.
ALTER TABLE vendor_domains ADD COLUMN verification_token TEXT;
ALTER TABLE vendor_domains ADD COLUMN verified_at BIGINT;
-- When the server last looked for the TXT record (the worker's re-checks are spaced by it).
ALTER TABLE vendor_domains ADD COLUMN checked_at BIGINT;
-- Domains added before this migration already serve live portals: they count as verified.
UPDATE vendor_domains SET verified_at = created_at;

-- A pending claim no longer blocks anyone: several vendors may claim the same host, the
-- first to prove control holds it, and a verified host belongs to one vendor only.
DROP INDEX ux_vendor_domains__host;
CREATE UNIQUE INDEX ux_vendor_domains__verified_host ON vendor_domains (host)
    WHERE verified_at IS NOT NULL;
CREATE UNIQUE INDEX ux_vendor_domains__vendor_host ON vendor_domains (vendor_id, host);
CREATE INDEX ix_vendor_domains__pending ON vendor_domains (checked_at)
    WHERE verified_at IS NULL;
