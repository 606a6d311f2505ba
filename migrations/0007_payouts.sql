-- Payouts: where each affiliate wants to be paid, payout runs and the payouts they create.

-- Payout settings beside payout_method / payout_email (PayPal and Wise use the email).
ALTER TABLE affiliates ADD COLUMN payout_details TEXT;
ALTER TABLE affiliates ADD COLUMN stripe_account_id TEXT;

-- Platform fee deducted from each payout, in basis points; monthly schedule (day 1-28).
ALTER TABLE programs ADD COLUMN platform_fee_bps BIGINT NOT NULL DEFAULT 0;
ALTER TABLE programs ADD COLUMN payout_day BIGINT;

-- The Stripe secret key Connect transfers are made with (write-only in every surface),
-- beside the program's webhook signing secret.
ALTER TABLE programs ADD COLUMN stripe_secret_key TEXT;

-- One press of "run payouts" (or one scheduled run) for one program.
CREATE TABLE payout_runs (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    -- Only this currency, when the run asked for one.
    currency TEXT,
    -- dashboard | api | schedule
    trigger_source TEXT NOT NULL,
    -- Scheduled runs: the month they are for (YYYY-MM), so each month runs once across
    -- instances; NULL for runs by hand.
    schedule_key TEXT,
    payouts BIGINT NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_payout_runs__schedule ON payout_runs (program_id, schedule_key);
CREATE INDEX ix_payout_runs__vendor ON payout_runs (vendor_id, created_at);

-- Money sent to one affiliate, in one currency, for one program.
CREATE TABLE payouts (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    run_id TEXT NOT NULL REFERENCES payout_runs (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    currency TEXT NOT NULL,
    -- The available balance settled (commissions net of clawbacks).
    amount_cents BIGINT NOT NULL,
    -- What the settled commissions are worth; amount - this = clawbacks netted.
    commissions_cents BIGINT NOT NULL,
    fee_bps BIGINT NOT NULL,
    fee_cents BIGINT NOT NULL,
    -- What the affiliate receives: amount - fee.
    net_cents BIGINT NOT NULL,
    -- Method and destination as they were when the payout was created.
    method TEXT NOT NULL,
    destination TEXT NOT NULL,
    -- pending | processing | paid | failed
    status TEXT NOT NULL,
    reference TEXT,
    failure_reason TEXT,
    -- The last error of a provider call that may be retried.
    provider_error TEXT,
    created_at BIGINT NOT NULL,
    processing_at BIGINT,
    paid_at BIGINT,
    failed_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_payouts__vendor_time ON payouts (vendor_id, created_at);
CREATE INDEX ix_payouts__affiliate ON payouts (vendor_id, affiliate_id, created_at);
CREATE INDEX ix_payouts__run ON payouts (run_id);
CREATE INDEX ix_payouts__vendor_status ON payouts (vendor_id, status, created_at);

-- Payout runs sum available lines per (program, affiliate, currency).
CREATE INDEX ix_ledger_entries__program_account ON ledger_entries (vendor_id, program_id, account, affiliate_id, currency);
-- Commissions a payout settles.
CREATE INDEX ix_commissions__payout ON commissions (payout_id);
