-- All-time figures per affiliate that bound the per-affiliate report (issue 20, "fast at
-- scale"). The report of a long period grouped every click-day, conversion and commission
-- of the period, one group per active affiliate, to sort them (2-5.6 s at 100k affiliates).
-- An affiliate's all-time figure is an upper bound of its figure in any period (clicks,
-- conversions, net revenue and net commission never go below zero), so the report takes
-- affiliates in order of the bound from an index range and looks up the exact figures of a
-- few at a time until no one left can reach the page (`src/db/report_search.rs`), as the
-- overview's leaderboard does with `commission_affiliate_totals` (0037).
--
-- Kept in step like the rollups they come from: the click insert adds to
-- `affiliate_click_totals`, every conversion write moves `conversion_affiliate_totals`, in
-- the same transaction; `affilia rollups rebuild` recomputes both and `affilia ledger
-- verify` compares them with their sources. Clicks are summed from
-- `click_rollup_affiliate_days`, not the click log: its buckets outlive pruned clicks.
CREATE TABLE affiliate_click_totals (
    vendor_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL,
    -- Counted clicks (neither bot nor repeat), as the rollup's `clicks`.
    clicks BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, affiliate_id)
);
-- The indexes end with the affiliate (and the rest of the key) so a read in bound order,
-- ties by affiliate, pages without sorting.
CREATE INDEX ix_affiliate_click_totals__clicks ON affiliate_click_totals (vendor_id, clicks,
    affiliate_id);

-- Conversions not rejected, and their amounts less refunds, per affiliate and currency.
CREATE TABLE conversion_affiliate_totals (
    vendor_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    conversions BIGINT NOT NULL,
    net_cents BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, affiliate_id, currency)
);
CREATE INDEX ix_conversion_affiliate_totals__conversions ON conversion_affiliate_totals (
    vendor_id, conversions, affiliate_id, currency);
CREATE INDEX ix_conversion_affiliate_totals__net ON conversion_affiliate_totals (vendor_id,
    currency, net_cents, affiliate_id);
-- All-time earnings in the report's currency, largest first.
CREATE INDEX ix_commission_affiliate_totals__currency_earned ON commission_affiliate_totals (
    vendor_id, currency, earned_cents, affiliate_id, program_id);

-- A report by name walks the vendor's affiliates in name order.
CREATE INDEX ix_affiliates__vendor_name ON affiliates (vendor_id, name, id);

INSERT INTO affiliate_click_totals (vendor_id, affiliate_id, clicks)
SELECT vendor_id, affiliate_id, CAST(SUM(clicks) AS BIGINT)
FROM click_rollup_affiliate_days GROUP BY vendor_id, affiliate_id;

INSERT INTO conversion_affiliate_totals (vendor_id, affiliate_id, currency, conversions,
    net_cents)
SELECT vendor_id, affiliate_id, currency, COUNT(*),
    CAST(SUM(amount_cents - refunded_cents) AS BIGINT)
FROM conversions WHERE status <> 'rejected'
GROUP BY vendor_id, affiliate_id, currency;
