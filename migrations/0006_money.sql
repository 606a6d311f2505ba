-- Money: the billing event log, conversions, commissions and the double-entry ledger.

-- Stripe's webhook signing secret (`whsec_...`) of the program's endpoint; never shown back.
ALTER TABLE programs ADD COLUMN stripe_webhook_secret TEXT;
-- What counts as a conversion: every_payment (default) | first_payment | event (a named
-- billing event type in conversion_event, e.g. subscription.created).
ALTER TABLE programs ADD COLUMN conversion_kind TEXT NOT NULL DEFAULT 'every_payment';
ALTER TABLE programs ADD COLUMN conversion_event TEXT;

-- Every input, stored before it is processed: API events, Stripe webhooks, manual
-- conversions. The payload is the exact body received (Stripe: the signed bytes) and never
-- changes; status/result record what processing made of it, and a replay processes the
-- stored payload again.
CREATE TABLE billing_events (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    -- api | stripe | manual
    source TEXT NOT NULL,
    -- The sender's id: the API event id, Stripe's evt_..., the manual external_id.
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- processed | ignored | failed
    status TEXT NOT NULL,
    -- What it produced or why nothing (JSON).
    result TEXT NOT NULL DEFAULT '{}',
    conversion_id TEXT,
    attempts BIGINT NOT NULL DEFAULT 1,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT NOT NULL
);
-- Stripe sends one account's events to every endpoint of that account, so the program is
-- part of the key: two programs fed by one Stripe account each see every event once.
CREATE UNIQUE INDEX ux_billing_events__event_id ON billing_events (vendor_id, source, program_id, event_id);
CREATE INDEX ix_billing_events__vendor_time ON billing_events (vendor_id, received_at);
CREATE INDEX ix_billing_events__vendor_status ON billing_events (vendor_id, status, received_at);

-- A qualifying sale bound to one enrollment. The same payment reaches us several times
-- (checkout session, invoice, charge; API and Stripe): it is found by any of its ids, so
-- each id is unique per program.
CREATE TABLE conversions (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    referral_id TEXT,
    customer_id TEXT,
    -- api | stripe | manual
    source TEXT NOT NULL,
    -- The trigger: charge.succeeded, invoice.paid, checkout.session.completed, manual, ...
    trigger_type TEXT NOT NULL,
    external_id TEXT,
    invoice_id TEXT,
    payment_intent_id TEXT,
    charge_id TEXT,
    subscription_id TEXT,
    amount_cents BIGINT NOT NULL,
    refunded_cents BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    -- pending | approved | rejected | reversed
    status TEXT NOT NULL,
    -- Why it earns nothing (affiliate_inactive, self_referral, ...) or was rejected.
    reason TEXT,
    occurred_at BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    decided_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_conversions__external_id ON conversions (program_id, external_id);
CREATE UNIQUE INDEX ux_conversions__invoice_id ON conversions (program_id, invoice_id);
CREATE UNIQUE INDEX ux_conversions__payment_intent_id ON conversions (program_id, payment_intent_id);
CREATE UNIQUE INDEX ux_conversions__charge_id ON conversions (program_id, charge_id);
CREATE INDEX ix_conversions__vendor_time ON conversions (vendor_id, created_at);
CREATE INDEX ix_conversions__affiliate ON conversions (vendor_id, affiliate_id, created_at);
CREATE INDEX ix_conversions__subscription ON conversions (program_id, subscription_id);
CREATE INDEX ix_conversions__customer ON conversions (program_id, customer_id);
CREATE INDEX ix_conversions__due ON conversions (status, available_at);

-- What one affiliate earns from one conversion: level 0 the converter, 1.. its uplines.
CREATE TABLE commissions (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    conversion_id TEXT NOT NULL REFERENCES conversions (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    level INTEGER NOT NULL,
    currency TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    -- Taken back by refunds so far.
    reversed_cents BIGINT NOT NULL DEFAULT 0,
    -- The rate applied, in basis points (NULL for flat amounts).
    bps BIGINT,
    -- How it was computed, for people ("20% of 49.00", "tier 2: 25%", ...).
    rule TEXT NOT NULL,
    -- pending | available | paid | rejected | reversed
    status TEXT NOT NULL,
    available_at BIGINT NOT NULL,
    payout_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_commissions__level ON commissions (conversion_id, level);
CREATE INDEX ix_commissions__affiliate ON commissions (vendor_id, affiliate_id, created_at);
CREATE INDEX ix_commissions__vendor_status ON commissions (vendor_id, status, created_at);

-- The journal. Append-only: rows are inserted, never updated or deleted. The entries of a
-- txn_id sum to zero per currency. Accounts: pending / available / paid per affiliate and
-- currency; commission_expense per vendor and currency (affiliate_id NULL).
CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    txn_id TEXT NOT NULL,
    -- commission | maturation | approval | rejection | reversal | payout
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    affiliate_id TEXT,
    currency TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    program_id TEXT,
    conversion_id TEXT,
    commission_id TEXT,
    payout_id TEXT,
    memo TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_ledger_entries__affiliate ON ledger_entries (vendor_id, affiliate_id, currency, created_at);
CREATE INDEX ix_ledger_entries__txn ON ledger_entries (txn_id);
CREATE INDEX ix_ledger_entries__commission ON ledger_entries (commission_id);
