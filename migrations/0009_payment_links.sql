-- Stripe API versions from 2025-03-31 ("basil") no longer let a charge name its invoice, and
-- an invoice names its payment only in an expanded `payments` list. `invoice_payment.paid`
-- events link the two: each link is kept here, whatever arrives first, so every later event
-- of the payment finds its one conversion by any of its ids.
CREATE TABLE payment_links (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    invoice_id TEXT NOT NULL,
    payment_intent_id TEXT,
    charge_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_payment_links__invoice ON payment_links (program_id, invoice_id);
CREATE INDEX ix_payment_links__payment_intent ON payment_links (program_id, payment_intent_id);
CREATE INDEX ix_payment_links__charge ON payment_links (program_id, charge_id);

-- Each refund of a conversion once, by its key: a Stripe refund id (`re_...`, from
-- refund.created/updated), the events API's refund id or event id, or `charge:<id>` for the
-- cumulative total a `charge.refunded` states. The refunded total is the larger of the sum
-- of individual refunds and the sum of cumulative totals, so the same refund seen as
-- refund.created, refund.updated and charge.refunded counts once.
CREATE TABLE conversion_refunds (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    conversion_id TEXT NOT NULL REFERENCES conversions (id),
    refund_key TEXT NOT NULL,
    -- 1: a cumulative total of a charge; 0: one refund.
    cumulative INTEGER NOT NULL,
    amount_cents BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_conversion_refunds__key ON conversion_refunds (conversion_id, refund_key);

-- Refunds recorded before this table existed count as one earlier refund each.
INSERT INTO conversion_refunds (id, vendor_id, conversion_id, refund_key, cumulative,
    amount_cents, created_at, updated_at)
SELECT 'rfd_legacy_' || id, vendor_id, id, 'legacy', 0, refunded_cents, updated_at, updated_at
FROM conversions WHERE refunded_cents > 0;
