-- Developer platform: key management, publishable keys and API rate limits.

-- A publishable key (scope 'publishable', for browsers) is public by nature: it is kept in
-- clear so the Developers page can show it again. Secret keys leave this column NULL and
-- are only ever stored as their SHA-256.
ALTER TABLE api_keys ADD COLUMN publishable_key TEXT;

-- Per-vendor API rate limits per key and minute; NULL = the installation default
-- (settings api_rate_limit_read / api_rate_limit_write).
ALTER TABLE vendors ADD COLUMN rate_limit_read_per_minute BIGINT;
ALTER TABLE vendors ADD COLUMN rate_limit_write_per_minute BIGINT;

-- Fixed-window request counters shared by every instance on one PostgreSQL (on SQLite the
-- counters live in the one process's memory and this table stays empty). A bucket names
-- the credential and the budget, e.g. 'key:key_01...:write'; window_start is unix seconds.
CREATE TABLE rate_limit_counters (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX ix_rate_limit_counters__window ON rate_limit_counters (window_start);
