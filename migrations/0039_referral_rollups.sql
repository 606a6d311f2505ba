-- Referral rollups (issue 19, the overview and `/api/v1/analytics` over a year): the
-- referred customers of a period were counted over every referral row of the vendor's
-- range (a parallel scan of the table on PostgreSQL: 40 ms at 100k referrals on each
-- view). Daily counts kept beside the rows, in the transaction that binds each customer,
-- answer whole days; the raw rows answer only a period's partial edge days, as the click
-- and money rollups do. `affilia ledger verify` compares them with a GROUP BY of the rows
-- and `affilia rollups rebuild` recomputes them.
--
-- A referral's program and `created_at` never change after the insert (a new touch moves
-- its affiliate only), so a row is counted once, on the UTC day it was created. Like the
-- money rollups, a day is spread over slots (the sum is the figure) so that ingest lanes
-- binding customers in parallel on PostgreSQL do not wait for one row.
CREATE TABLE referral_rollup_days (
    vendor_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    slot INTEGER NOT NULL,
    referrals BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, day, program_id, slot)
);

INSERT INTO referral_rollup_days (vendor_id, program_id, day, slot, referrals)
SELECT vendor_id, program_id, created_at / 86400000, 0, COUNT(*)
FROM referrals GROUP BY vendor_id, program_id, created_at / 86400000;
