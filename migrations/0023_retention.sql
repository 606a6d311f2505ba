-- Backups, portability and retention (issue 21).
--
-- When the worker prunes raw clicks (`--retain-clicks-days`), it deletes whole UTC days
-- and records here, per vendor, the instant before which the click log is gone. The click
-- rollups keep those days' counts; the rollup check (`affilia ledger verify`) and
-- `affilia rollups rebuild` only compare or recompute buckets from this instant on, so
-- pruning never makes them disagree or wipes history. No row: nothing was pruned.
CREATE TABLE click_horizons (
    vendor_id TEXT PRIMARY KEY REFERENCES vendors (id),
    pruned_before BIGINT NOT NULL
);

-- Retention deletes finished jobs and emails by age, oldest first, in bounded batches.
CREATE INDEX ix_jobs__finished ON jobs (status, updated_at);
CREATE INDEX ix_email_outbox__finished ON email_outbox (status, updated_at);
