-- Vendor overview and reports (issue 20): indexes so every figure of a period is one
-- index range read, never a scan of the vendor's clicks or conversions.

-- Per-affiliate reports group a period's conversions by affiliate: the analytics covering
-- index gains the affiliate, so the grouping still never reads the table.
DROP INDEX ix_conversions__vendor_occurred;
CREATE INDEX ix_conversions__vendor_occurred ON conversions (vendor_id, occurred_at, status, currency, amount_cents, refunded_cents, program_id, affiliate_id);
-- Per-affiliate reports read a period's clicks from the daily rollup by day first (its
-- primary key starts with the affiliate, which suits one affiliate's chart, not a period).
CREATE INDEX ix_click_rollup_affiliate_days__vendor_day ON click_rollup_affiliate_days (vendor_id, day, affiliate_id, clicks);
-- The overview's pending-work badges: counts by status.
CREATE INDEX ix_deals__vendor_status ON deals (vendor_id, status);
CREATE INDEX ix_email_outbox__vendor_status ON email_outbox (vendor_id, status);
CREATE INDEX ix_webhook_deliveries__vendor_status ON webhook_deliveries (vendor_id, status);
