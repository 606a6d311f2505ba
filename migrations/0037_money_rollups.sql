-- Money rollups (issue 19, "analytics over a year"): the year-long analytics grouped every
-- conversion and commission of the range (542-879 ms at 100k of each on SQLite). Daily
-- sums kept beside the rows, in the same transaction as every write that changes them,
-- answer whole days; the raw rows answer only a period's partial edge days (as the click
-- rollups do, `src/db/rollups.rs`). `affilia ledger verify` compares them with a GROUP BY
-- of the rows and `affilia rollups rebuild` recomputes them.
--
-- `day` is the UTC day number (unix ms / 86400000), as in `click_rollup_affiliate_days`.
-- Like `ledger_line_counts` (0034), a bucket is spread over slots (the sum of its rows is
-- the figure) so that ingest lanes committing in parallel on PostgreSQL do not all wait
-- for the one row of today's pending bucket; a writer task always uses the same slot.
-- A bucket whose rows cancel out may stay as a row of zeros.
CREATE TABLE commission_rollup_days (
    vendor_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    slot INTEGER NOT NULL,
    commissions BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    reversed_cents BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, day, program_id, status, currency, slot)
);

CREATE TABLE conversion_rollup_days (
    vendor_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    slot INTEGER NOT NULL,
    conversions BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    refunded_cents BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, day, program_id, status, currency, slot)
);

-- All-time earnings per affiliate (non-rejected commissions: amount less reversed, never
-- negative): an upper bound of what the affiliate earned in any period, which lets the
-- leaderboard stop after the few affiliates that can still reach its top ten.
CREATE TABLE commission_affiliate_totals (
    vendor_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    commissions BIGINT NOT NULL,
    earned_cents BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, program_id, affiliate_id, currency)
);

-- The leaderboard takes affiliates in order of all-time earnings (per program, and
-- vendor-wide) from an index range.
CREATE INDEX ix_commission_affiliate_totals__earned ON commission_affiliate_totals (vendor_id,
    earned_cents);
CREATE INDEX ix_commission_affiliate_totals__program_earned ON commission_affiliate_totals (
    vendor_id, program_id, earned_cents);

-- The leaderboard's exact sums of its few candidates: an index-only range per affiliate.
CREATE INDEX ix_commissions__affiliate_cover ON commissions (vendor_id, affiliate_id,
    created_at, status, currency, program_id, amount_cents, reversed_cents);

INSERT INTO commission_rollup_days (vendor_id, program_id, day, status, currency, slot,
    commissions, amount_cents, reversed_cents)
SELECT vendor_id, program_id, created_at / 86400000, status, currency, 0, COUNT(*),
    CAST(SUM(amount_cents) AS BIGINT), CAST(SUM(reversed_cents) AS BIGINT)
FROM commissions GROUP BY vendor_id, program_id, created_at / 86400000, status, currency;

INSERT INTO conversion_rollup_days (vendor_id, program_id, day, status, currency, slot,
    conversions, amount_cents, refunded_cents)
SELECT vendor_id, program_id, occurred_at / 86400000, status, currency, 0, COUNT(*),
    CAST(SUM(amount_cents) AS BIGINT), CAST(SUM(refunded_cents) AS BIGINT)
FROM conversions GROUP BY vendor_id, program_id, occurred_at / 86400000, status, currency;

INSERT INTO commission_affiliate_totals (vendor_id, program_id, affiliate_id, currency,
    commissions, earned_cents)
SELECT vendor_id, program_id, affiliate_id, currency, COUNT(*),
    CAST(SUM(amount_cents - reversed_cents) AS BIGINT)
FROM commissions WHERE status <> 'rejected'
GROUP BY vendor_id, program_id, affiliate_id, currency;

-- The referral count of a program's year read every referral row of the vendor's range to
-- check its program: the same index with the program in it answers from the index alone.
DROP INDEX ix_referrals__vendor_time;
CREATE INDEX ix_referrals__vendor_time ON referrals (vendor_id, created_at, program_id);
