-- The overview's top affiliates and the affiliates list show each listed affiliate's
-- conversions and net revenue (`db::reports::revenue_of`). `ix_conversions__affiliate` held
-- only `created_at`, so every one of those conversions was fetched from the table for its
-- status, currency and amounts: at 1M conversions the ten busiest affiliates of a year hold
-- about 50,000 of them. The same index with those columns answers from the index alone
-- and still lists an affiliate's conversions by `created_at`.
DROP INDEX ix_conversions__affiliate;
CREATE INDEX ix_conversions__affiliate ON conversions (vendor_id, affiliate_id, created_at,
    occurred_at, status, currency, amount_cents, refunded_cents);

-- `ix_commissions__affiliate (vendor_id, affiliate_id, created_at)` is the prefix of
-- `ix_commissions__affiliate_cover` (0037), which serves every read it served. Each index
-- is one more entry written per commission insert and per claim by a payout run (setting
-- `payout_id` is never a heap-only update on PostgreSQL: that column is indexed), the
-- larger part of a run's time there.
DROP INDEX ix_commissions__affiliate;
