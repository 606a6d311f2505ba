-- Per-group application form fields (issue 23): a group's extra questions, and the answers
-- and group of each application.

-- JSON array of {key, label, required, type}; see src/domain/partners/groups/fields.rs.
ALTER TABLE partner_groups ADD COLUMN application_fields TEXT NOT NULL DEFAULT '[]';

-- JSON object {key: answer} of the group's questions the applicant answered.
ALTER TABLE applications ADD COLUMN answers TEXT NOT NULL DEFAULT '{}';
-- The group applied to; approval enrolls the affiliate in it. NULL: the default group.
ALTER TABLE applications ADD COLUMN group_id TEXT;
