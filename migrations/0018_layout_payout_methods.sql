-- The payout methods a vendor offers its affiliates (issue 20). No row for a vendor means
-- every method is offered, so existing vendors keep today's behaviour until they choose.
CREATE TABLE vendor_payout_methods (
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    method TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, method)
);
