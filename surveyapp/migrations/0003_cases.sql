-- Progress measurements for citizens: cases (families) per unit, their members, and the
-- measurements that link a member and a schedule slot to a response.
-- A measurement's answers live in the ordinary responses/answers tables: each schedule slot and
-- instrument has one standing round (answered_by = 'citizen'), each member one invitation there.
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    key TEXT NOT NULL,
    unit TEXT NOT NULL,
    label TEXT,
    schedule_id TEXT NOT NULL,
    opened_on TEXT NOT NULL,
    closed_on TEXT,
    close_reason TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (project_id, key),
    CHECK (closed_on IS NULL OR closed_on >= opened_on)
);
CREATE INDEX cases_unit ON cases(project_id, unit);

-- A member of a case; person_id is the panel person (people.key is the member's key).
CREATE TABLE case_members (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    person_id INTEGER NOT NULL UNIQUE REFERENCES people(id),
    role TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    intake_on TEXT NOT NULL,
    closed_on TEXT,
    created_at TEXT NOT NULL,
    CHECK (closed_on IS NULL OR closed_on >= intake_on)
);
CREATE INDEX case_members_case ON case_members(case_id);

-- One measurement = one member x schedule slot x instrument, pointing to its response.
CREATE TABLE measurements (
    id INTEGER PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES case_members(id),
    slot TEXT NOT NULL,
    questionnaire_id TEXT NOT NULL,
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    invitation_id INTEGER NOT NULL UNIQUE REFERENCES invitations(id),
    response_id INTEGER UNIQUE REFERENCES responses(id),
    link_sent_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (member_id, slot, questionnaire_id)
);
CREATE INDEX measurements_member ON measurements(member_id);

-- A member cannot stay open in a closed case (the services close members first; these
-- triggers keep any other writer honest).
CREATE TRIGGER case_members_open_in_closed_case_insert
BEFORE INSERT ON case_members
WHEN NEW.closed_on IS NULL AND (SELECT closed_on FROM cases WHERE id = NEW.case_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a member cannot be open in a closed family');
END;

CREATE TRIGGER case_members_reopen_in_closed_case
BEFORE UPDATE OF closed_on ON case_members
WHEN NEW.closed_on IS NULL AND (SELECT closed_on FROM cases WHERE id = NEW.case_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a member cannot be open in a closed family');
END;

CREATE TRIGGER cases_close_members
AFTER UPDATE OF closed_on ON cases
WHEN NEW.closed_on IS NOT NULL
BEGIN
    UPDATE case_members SET closed_on = MAX(NEW.closed_on, intake_on)
    WHERE case_id = NEW.id AND closed_on IS NULL;
END;

-- Schedule YAML as loaded (questionnaires/schedules/*.yaml); cases name one by id.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    yaml TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source_path TEXT,
    loaded_at TEXT NOT NULL
);
