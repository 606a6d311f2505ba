-- Which payout settles a commission, kept beside the commissions instead of in them.
--
-- A payout run claimed each commission by setting `commissions.payout_id`. On PostgreSQL
-- that was never a heap-only update (the column was indexed, and a loaded or busy table's
-- pages have no room), so every claimed commission became a new row version with a new
-- entry in each of the table's indexes: about 110 µs a commission, more than half of a
-- 10,000-payout run. A claim is now one narrow insert with two index entries, and the
-- commission row is only rewritten when it is paid (its status changes then anyway).
--
-- The primary key is the rule that a commission is claimed by one payout at most; a failed
-- payout's claims on commissions still available are deleted so that a later run can take
-- them (`db::payouts::release_commissions`).
--
-- No foreign keys to the commission and the payout (`commissions.payout_id` had none
-- either): on PostgreSQL each check locks the referenced row (`FOR KEY SHARE`), which
-- writes into every claimed commission's row again and took half of the claim's time.
-- Neither table ever deletes a row, and `affilia ledger verify` names a claim whose
-- commission or payout is missing or belongs to another affiliate, program or currency.
CREATE TABLE payout_claims (
    commission_id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    payout_id TEXT NOT NULL
);
-- The commissions of a payout: its statement, payment and release.
CREATE INDEX ix_payout_claims__payout ON payout_claims (payout_id);

INSERT INTO payout_claims (commission_id, vendor_id, payout_id)
SELECT id, vendor_id, payout_id FROM commissions WHERE payout_id IS NOT NULL;

DROP INDEX ix_commissions__payout;
ALTER TABLE commissions DROP COLUMN payout_id;
