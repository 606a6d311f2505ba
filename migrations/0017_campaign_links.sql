-- Campaign links (issue 20): archiving, and per-link figures.
--
-- An archived link is hidden from its affiliate's list but keeps redirecting, so a link
-- already published (a post, a newsletter) never breaks. NULL: not archived.
ALTER TABLE links ADD COLUMN archived_at BIGINT;

-- Per-link click counts. Clicks already record their link (link_id, NULL for the plain
-- referral link); this index makes "counted clicks per link of one affiliate" one index
-- range read over that affiliate's link clicks, never a walk of the click log. Partial:
-- most clicks come through the plain link and need no entry.
CREATE INDEX ix_clicks__link ON clicks (vendor_id, affiliate_id, link_id, is_bot, is_duplicate) WHERE link_id IS NOT NULL;
