-- Queries at scale (issue 19): click rollups and covering indexes.

-- Click rollups. The click log is the largest table (tens of millions of rows); counting it
-- for a chart or a period total walked every click of the range. These tables hold the same
-- counts per bucket and are kept in step by the click insert itself (same transaction, see
-- db::clicks::insert_batch); `affilia rollups rebuild` recomputes them from the log and
-- `affilia ledger verify` compares them with it.
--
-- Per program and UTC hour (hours since 1970-01-01): vendor and program totals. An hour
-- grain keeps the raw part of a period that does not start on a bucket boundary small.
CREATE TABLE click_rollup_hours (
    vendor_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    -- Every recorded click, the counted ones (neither bot nor repeat), bots, repeats.
    recorded BIGINT NOT NULL,
    clicks BIGINT NOT NULL,
    bots BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, hour, program_id)
);
-- Per affiliate, program and UTC day (days since 1970-01-01): portal charts, affiliate stats.
CREATE TABLE click_rollup_affiliate_days (
    vendor_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    recorded BIGINT NOT NULL,
    clicks BIGINT NOT NULL,
    bots BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, affiliate_id, day, program_id)
);

INSERT INTO click_rollup_hours (vendor_id, program_id, hour, recorded, clicks, bots, duplicates)
SELECT vendor_id, program_id, created_at / 3600000, COUNT(*),
       CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate = 0 THEN 1 ELSE 0 END) AS BIGINT),
       CAST(SUM(is_bot) AS BIGINT),
       CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate = 1 THEN 1 ELSE 0 END) AS BIGINT)
FROM clicks GROUP BY vendor_id, program_id, created_at / 3600000;

INSERT INTO click_rollup_affiliate_days (vendor_id, affiliate_id, program_id, day, recorded, clicks, bots, duplicates)
SELECT vendor_id, affiliate_id, program_id, created_at / 86400000, COUNT(*),
       CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate = 0 THEN 1 ELSE 0 END) AS BIGINT),
       CAST(SUM(is_bot) AS BIGINT),
       CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate = 1 THEN 1 ELSE 0 END) AS BIGINT)
FROM clicks GROUP BY vendor_id, affiliate_id, program_id, created_at / 86400000;

-- Analytics revenue per currency over occurred_at (no index had that column): covering, so
-- a period is one index range read.
CREATE INDEX ix_conversions__vendor_occurred ON conversions (vendor_id, occurred_at, status, currency, amount_cents, refunded_cents, program_id);
-- Conversion lists filtered by status, newest first, and their counts.
CREATE INDEX ix_conversions__vendor_status ON conversions (vendor_id, status, created_at);
-- Analytics commissions by status and the leaderboard over a period: covering.
CREATE INDEX ix_commissions__vendor_time_cover ON commissions (vendor_id, created_at, status, currency, amount_cents, reversed_cents, affiliate_id, program_id);
-- Affiliate lists filtered by status, newest first.
CREATE INDEX ix_affiliates__vendor_status ON affiliates (vendor_id, status, created_at);
-- Payout runs sum the available lines per (affiliate, currency) of a program: the same
-- index with the amount, so the sums never read the table (1.5M lookups at 3M lines).
DROP INDEX ix_ledger_entries__program_account;
CREATE INDEX ix_ledger_entries__program_available ON ledger_entries (vendor_id, program_id, account, affiliate_id, currency, amount_cents);
