-- Caps and bonuses (issue 23).

-- Per-program caps and goal bonuses, JSON objects (see src/domain/partners/caps.rs); '{}'
-- means none.
ALTER TABLE programs ADD COLUMN caps TEXT NOT NULL DEFAULT '{}';
ALTER TABLE programs ADD COLUMN goal_bonuses TEXT NOT NULL DEFAULT '{}';

-- What a cap took off the converting affiliate's commission, and which cap
-- (customer_total | customer_months | affiliate_month).
ALTER TABLE conversions ADD COLUMN capped_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversions ADD COLUMN capped_by TEXT;

-- One-off amounts to an affiliate in a program: by hand (with a note) or for a goal.
CREATE TABLE bonuses (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    -- manual | first_sale | monthly_sales
    kind TEXT NOT NULL,
    -- Once per goal and period: 'first_sale', 'monthly_sales:2026-12'; a manual bonus's own id.
    goal_key TEXT NOT NULL,
    -- The conversion that reached the goal.
    conversion_id TEXT,
    currency TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    -- pending (holding period) | available
    status TEXT NOT NULL,
    available_at BIGINT NOT NULL,
    -- The staff user or API key that granted it (manual).
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A goal is awarded once per affiliate, program and period, whichever instance sees it first.
CREATE UNIQUE INDEX ux_bonuses__goal ON bonuses (program_id, affiliate_id, goal_key);
CREATE INDEX ix_bonuses__vendor ON bonuses (vendor_id, created_at);
CREATE INDEX ix_bonuses__affiliate ON bonuses (vendor_id, affiliate_id, created_at);
CREATE INDEX ix_bonuses__due ON bonuses (status, available_at);

-- Journal lines of a bonus name it, as commission lines name their commission.
ALTER TABLE ledger_entries ADD COLUMN bonus_id TEXT;
CREATE INDEX ix_ledger_entries__bonus ON ledger_entries (bonus_id);
