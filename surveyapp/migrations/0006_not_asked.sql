-- Items a respondent is not asked (a JSON list of item ids), e.g. the items a progression
-- schedule routes away from a member by role or age on the measurement date. The answer
-- pages, page saves, submission and the applicable counts all leave these items out.
-- Kept apart from `attributes`, so it never shows up as a respondent attribute in exports.
ALTER TABLE invitations ADD COLUMN not_asked TEXT NOT NULL DEFAULT '[]';
