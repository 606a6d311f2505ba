-- Partner groups with promotion rules (issue 23).

-- Groups of a program's affiliates. The default group (one per program, is_default = 1)
-- earns the program's own terms (program_terms, programs.current_terms_version); any other
-- group has its own versioned terms (group_terms, current_terms_version). NULL settings fall
-- back to the program's (see src/domain/partners/groups/settings.rs, the one resolver).
CREATE TABLE partner_groups (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    -- Own terms version (non-default groups); 0 for the default group, which uses the
    -- program's.
    current_terms_version BIGINT NOT NULL DEFAULT 0,
    holding_period_days BIGINT,
    min_payout_cents BIGINT,
    landing_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_partner_groups__name ON partner_groups (program_id, LOWER(name));
CREATE INDEX ix_partner_groups__vendor ON partner_groups (vendor_id, program_id);

-- Commission terms of a non-default group, one row per version (never changed once
-- written); enrollments in the group keep the version they joined the group under.
CREATE TABLE group_terms (
    group_id TEXT NOT NULL REFERENCES partner_groups (id),
    version BIGINT NOT NULL,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    commission TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, version)
);

-- Promotion rules: an affiliate in from_group whose metric reaches threshold moves to
-- to_group; with demote = 1 an affiliate in to_group whose metric falls below it moves back.
CREATE TABLE group_rules (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    from_group_id TEXT NOT NULL REFERENCES partner_groups (id),
    to_group_id TEXT NOT NULL REFERENCES partner_groups (id),
    -- approved_conversions | approved_revenue
    metric TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    -- Only conversions of the last window_days count; NULL: all time.
    window_days BIGINT,
    demote INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_group_rules__program ON group_rules (vendor_id, program_id);
CREATE UNIQUE INDEX ux_group_rules__pair ON group_rules (from_group_id, to_group_id);

-- Every program gets its default group; its id derives from the program's.
INSERT INTO partner_groups (id, vendor_id, program_id, name, is_default, created_at, updated_at)
SELECT 'grp_' || SUBSTR(p.id, 5), p.vendor_id, p.id, 'Default', 1, p.created_at, p.created_at
FROM programs p;

-- The one group of an enrollment in its program.
ALTER TABLE enrollments ADD COLUMN group_id TEXT;
UPDATE enrollments SET group_id = 'grp_' || SUBSTR(program_id, 5);
CREATE INDEX ix_enrollments__group ON enrollments (group_id);

