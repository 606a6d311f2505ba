-- The journal list (`GET /api/v1/ledger`, newest first) read the vendor's whole ledger and
-- sorted it: at 3M lines 257-434 ms a page. This index gives its order.
CREATE INDEX ix_ledger_entries__vendor_time ON ledger_entries (vendor_id, created_at, txn_id, id);
