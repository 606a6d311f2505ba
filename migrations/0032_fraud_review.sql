-- Fraud review (issue 23).

-- Per-program fraud rules, a JSON object of rule -> off | flag | hold | reject (see
-- src/domain/partners/fraud_rules.rs); '{}' means every rule is off.
ALTER TABLE programs ADD COLUMN fraud_rules TEXT NOT NULL DEFAULT '{}';

-- One review item per conversion that a rule flagged, held or rejected.
CREATE TABLE fraud_reviews (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    conversion_id TEXT NOT NULL REFERENCES conversions (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    -- The strongest action of the signals that fired: flag | hold | reject.
    action TEXT NOT NULL,
    -- JSON array of {rule, action, evidence}: what fired and why, in words.
    signals TEXT NOT NULL,
    -- pending | approved | rejected (a `reject` rule decides at once: rejected).
    status TEXT NOT NULL,
    -- The staff user or API key that decided; NULL while pending or when a rule decided.
    decided_by TEXT,
    decided_at BIGINT,
    note TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One item per conversion: a retried billing event never makes a second.
CREATE UNIQUE INDEX ux_fraud_reviews__conversion ON fraud_reviews (conversion_id);
CREATE INDEX ix_fraud_reviews__queue ON fraud_reviews (vendor_id, status, created_at);
CREATE INDEX ix_fraud_reviews__affiliate ON fraud_reviews (vendor_id, affiliate_id, status);
-- The spike signal counts an affiliate's recent conversions in a program.
CREATE INDEX ix_conversions__affiliate_occurred ON conversions (program_id, affiliate_id, occurred_at);
