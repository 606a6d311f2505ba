-- Lines in each vendor's journal (issue 19): the unfiltered ledger list's exact `total` was
-- a COUNT(*) over the vendor's whole `ix_ledger_entries__vendor_time` range (781 ms at 414k
-- lines on SQLite, growing with the ledger). The journal is append-only, so a count kept
-- beside it in the same transaction as every insert stays exact; `affilia ledger verify`
-- compares it with COUNT(*) and `affilia rollups rebuild` recomputes it.
--
-- A vendor's count is spread over a few slots (the sum of its rows is the count): on
-- PostgreSQL the ingest lanes commit in parallel, and one counter row per vendor would make
-- every transaction that posts lines wait for the previous one's commit. A writer task
-- always uses the same slot, so one transaction never locks two slots (no deadlock).
CREATE TABLE ledger_line_counts (
    vendor_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    lines BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, slot)
);

INSERT INTO ledger_line_counts (vendor_id, slot, lines)
SELECT vendor_id, 0, COUNT(*) FROM ledger_entries GROUP BY vendor_id;
