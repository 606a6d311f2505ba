-- Server-side sessions (issue 21): every dashboard, portal and applicant sign-in is a row,
-- checked on each request, so a copied cookie stops working once its row is revoked (sign
-- out, sign out everywhere, a password change or reset). The cookie carries a random token;
-- the row keeps only its SHA-256 hash, so a leaked table signs nobody in.
CREATE TABLE sign_ins (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL,
    -- 'staff' (subject = vendor_users.id), 'affiliate' (subject = affiliates.id) or
    -- 'applicant' (subject = the lower-cased email whose applications it may see).
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX ux_sign_ins__token ON sign_ins (token_hash);
CREATE INDEX ix_sign_ins__subject ON sign_ins (vendor_id, kind, subject);
