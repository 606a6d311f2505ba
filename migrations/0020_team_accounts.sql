-- Team and accounts (issue 20): invitations, sign out everywhere, audit filters.
--
-- An invited teammate is a vendor_users row with status 'invited' and no usable password
-- until they accept; the row reserves the email (unique across the installation), so an
-- address cannot be invited by two vendors or hold two accounts.
ALTER TABLE vendor_users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
-- Bumped by "sign out everywhere" (and a password change): a session signed in under an
-- older epoch is refused by every instance, since the check reads the database.
ALTER TABLE vendor_users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vendor_users ADD COLUMN invited_by TEXT;
ALTER TABLE vendor_users ADD COLUMN invited_at BIGINT;

-- The audit page filters by actor and by object within a vendor.
CREATE INDEX ix_audit_log__vendor_actor ON audit_log (vendor_id, actor_id);
CREATE INDEX ix_audit_log__vendor_object ON audit_log (vendor_id, object_id);
