-- Tracking and attribution: extra referral links, clicks, referred customers, deals.

-- Host names (besides the landing URL's) that referral links may send visitors to, as a
-- JSON array such as ["acme.com", "*.acme.com"]. Also the origins allowed to call
-- POST /api/v1/track from a browser.
ALTER TABLE programs ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '[]';

-- Extra referral links of an enrollment: /r/{code}/{slug}.
CREATE TABLE links (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    -- NULL: the program's landing URL.
    destination_url TEXT,
    sub_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_links__slug ON links (enrollment_id, slug);
CREATE INDEX ix_links__affiliate ON links (vendor_id, affiliate_id, created_at);

-- One visit through a referral link (or reported by the snippet / API). The id is the
-- `aff_sess` handed to the vendor's site. Written in batches, asynchronously. Never the raw
-- IP: ip_hash is SHA-256 of a daily salt and the address. Bots and repeat clicks within
-- 30 s are kept, flagged, and left out of the counts.
CREATE TABLE clicks (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL,
    link_id TEXT,
    code TEXT NOT NULL,
    landing_url TEXT NOT NULL,
    referrer TEXT,
    user_agent TEXT,
    ip_hash TEXT NOT NULL,
    is_bot INTEGER NOT NULL DEFAULT 0,
    is_duplicate INTEGER NOT NULL DEFAULT 0,
    -- redirect | snippet | api
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_clicks__affiliate_time ON clicks (vendor_id, affiliate_id, created_at);
CREATE INDEX ix_clicks__vendor_time ON clicks (vendor_id, created_at);

-- A referred customer bound to one enrollment, at most once per program.
CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    customer_id TEXT NOT NULL,
    email TEXT,
    click_id TEXT,
    code TEXT NOT NULL,
    -- click | code | deal
    source TEXT NOT NULL,
    -- When the touch that won the binding happened (the click, or the report).
    touched_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_referrals__customer_id ON referrals (program_id, customer_id);
CREATE INDEX ix_referrals__affiliate_time ON referrals (vendor_id, affiliate_id, created_at);
CREATE INDEX ix_referrals__vendor_time ON referrals (vendor_id, created_at);
CREATE INDEX ix_referrals__customer ON referrals (vendor_id, customer_id);

-- Leads an affiliate registers; the vendor accepts or rejects them. An accepted deal turns
-- into a referral when the vendor reports that customer by the lead's email.
CREATE TABLE deals (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    lead_email TEXT NOT NULL,
    lead_name TEXT NOT NULL,
    company TEXT,
    notes TEXT,
    -- pending | accepted | rejected
    status TEXT NOT NULL,
    rejection_reason TEXT,
    referral_id TEXT,
    reviewed_by TEXT,
    reviewed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One open (pending or accepted) deal per lead and program.
CREATE UNIQUE INDEX ux_deals__lead_email ON deals (program_id, LOWER(lead_email)) WHERE status <> 'rejected';
CREATE INDEX ix_deals__vendor_time ON deals (vendor_id, created_at);
CREATE INDEX ix_deals__lead ON deals (vendor_id, LOWER(lead_email));
