-- Fidelity and implementation monitoring: unit registrations, activities with milestones and
-- a status per round, goal indicators with a value per round. Never edit once shipped.

-- One response per unit per round in rounds answered on a unit's behalf. The services refuse a
-- second registration with a clear message; this trigger is the guarantee underneath it.
CREATE TRIGGER responses_one_per_unit
BEFORE INSERT ON responses
WHEN NEW.unit <> ''
  AND (SELECT answered_by FROM rounds WHERE id = NEW.round_id) = 'unit'
  AND EXISTS (SELECT 1 FROM responses WHERE round_id = NEW.round_id AND unit = NEW.unit)
BEGIN
  SELECT RAISE(ABORT, 'this unit already has a response in this round');
END;

-- Reopening a unit's submitted response (admin only); the audit log has it too.
CREATE TABLE unit_reopenings (
    id INTEGER PRIMARY KEY,
    response_id INTEGER NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    unit TEXT NOT NULL,
    reopened_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    previous_registered_by TEXT,
    previous_submitted_at TEXT,
    at TEXT NOT NULL
);
CREATE INDEX unit_reopenings_round ON unit_reopenings(round_id, unit);

-- An activity of a project (optionally of one unit), with an owner. Dropped or replaced
-- activities stay, with the reason, and are shown as such in later rounds.
CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    unit TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL,
    title TEXT NOT NULL,
    owner TEXT,
    description TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    -- The first round it is followed in (NULL: from the start), e.g. a replacement's round.
    from_round_id INTEGER REFERENCES rounds(id),
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'dropped', 'replaced')),
    state_round_id INTEGER REFERENCES rounds(id),
    state_reason TEXT,
    replaced_by INTEGER REFERENCES activities(id),
    created_at TEXT NOT NULL,
    UNIQUE (project_id, unit, code)
);

-- A milestone of an activity: what counts as done, how it is measured and from which round it is due.
CREATE TABLE milestones (
    id INTEGER PRIMARY KEY,
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    measure TEXT NOT NULL DEFAULT 'status' CHECK (measure IN ('status', 'count', 'percent')),
    target REAL,
    due_round_id INTEGER REFERENCES rounds(id),
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

-- The status note of a milestone in a round: Ja / Nej / På vej / N/A, or a count or percentage,
-- a comment, and an optional traffic-light override with its recorded reason.
CREATE TABLE milestone_status (
    milestone_id INTEGER NOT NULL REFERENCES milestones(id) ON DELETE CASCADE,
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    status TEXT CHECK (status IS NULL OR status IN ('ja', 'nej', 'paa_vej', 'na')),
    value REAL,
    comment TEXT,
    light_override TEXT CHECK (light_override IS NULL OR light_override IN ('green', 'yellow', 'red', 'none')),
    override_reason TEXT,
    overridden_by TEXT,
    overridden_at TEXT,
    updated_by TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (milestone_id, round_id),
    CHECK (light_override IS NULL OR (override_reason IS NOT NULL AND trim(override_reason) <> ''))
);

-- A goal indicator: baseline, target, unit of measurement and direction; a value per round.
CREATE TABLE indicators (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    unit TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL,
    title TEXT NOT NULL,
    measure_unit TEXT NOT NULL DEFAULT '',
    baseline REAL,
    target REAL,
    direction TEXT NOT NULL DEFAULT 'higher' CHECK (direction IN ('higher', 'lower')),
    position INTEGER NOT NULL DEFAULT 0,
    -- The first round it is followed in (NULL: from the start), e.g. a replacement's round.
    from_round_id INTEGER REFERENCES rounds(id),
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'dropped', 'replaced')),
    state_round_id INTEGER REFERENCES rounds(id),
    state_reason TEXT,
    replaced_by INTEGER REFERENCES indicators(id),
    created_at TEXT NOT NULL,
    UNIQUE (project_id, unit, code)
);

CREATE TABLE indicator_values (
    indicator_id INTEGER NOT NULL REFERENCES indicators(id) ON DELETE CASCADE,
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    value REAL,
    comment TEXT,
    updated_by TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (indicator_id, round_id)
);
