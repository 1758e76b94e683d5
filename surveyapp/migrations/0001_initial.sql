-- Core schema. Never edit a migration that has shipped: add a new numbered file.
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    min_n INTEGER NOT NULL DEFAULT 5,
    created_at TEXT NOT NULL
);

CREATE TABLE questionnaires (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    personal INTEGER NOT NULL DEFAULT 1
);

-- Each distinct YAML text of a questionnaire is a version; rounds freeze one.
CREATE TABLE questionnaire_versions (
    id INTEGER PRIMARY KEY,
    questionnaire_id TEXT NOT NULL REFERENCES questionnaires(id),
    version INTEGER NOT NULL,
    source_path TEXT,
    yaml TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    UNIQUE (questionnaire_id, version),
    UNIQUE (questionnaire_id, sha256)
);

-- The wording of every item version ever loaded: a trend never joins two versions,
-- and a changed text under an unchanged version is refused once it has answers.
CREATE TABLE item_versions (
    questionnaire_id TEXT NOT NULL REFERENCES questionnaires(id),
    item_id TEXT NOT NULL,
    item_version INTEGER NOT NULL,
    text TEXT NOT NULL,
    construct TEXT,
    first_questionnaire_version INTEGER NOT NULL,
    PRIMARY KEY (questionnaire_id, item_id, item_version)
);

CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    opens TEXT,
    closes TEXT,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed')),
    partial_threshold REAL NOT NULL DEFAULT 0.5 CHECK (partial_threshold > 0 AND partial_threshold <= 1),
    anonymous INTEGER NOT NULL DEFAULT 0,
    allow_edit_after_submit INTEGER NOT NULL DEFAULT 0,
    -- 'self': the respondent answers; 'citizen': a professional registers for a citizen;
    -- 'unit': a project lead registers on behalf of a unit.
    answered_by TEXT NOT NULL DEFAULT 'self' CHECK (answered_by IN ('self', 'citizen', 'unit')),
    retention_days INTEGER,
    purged_at TEXT,
    created_at TEXT NOT NULL,
    opened_at TEXT,
    closed_at TEXT,
    UNIQUE (project_id, name)
);

-- Which questionnaire version each respondent group answers; group_name '' = everyone else.
CREATE TABLE round_questionnaires (
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    group_name TEXT NOT NULL DEFAULT '',
    questionnaire_version_id INTEGER NOT NULL REFERENCES questionnaire_versions(id),
    PRIMARY KEY (round_id, group_name)
);

-- A person in a project, stable across rounds (the panel key).
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    key TEXT NOT NULL,
    name TEXT,
    email TEXT,
    language TEXT,
    UNIQUE (project_id, key)
);

-- A person on a round's respondent list.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    person_id INTEGER REFERENCES people(id),
    group_name TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT '{}',
    token_hash TEXT NOT NULL UNIQUE,
    eligible INTEGER NOT NULL DEFAULT 1,
    ineligible_reason TEXT,
    removed_at TEXT,
    -- Kept for anonymous rounds, where no response row points back here.
    started INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (round_id, person_id)
);
CREATE INDEX invitations_round ON invitations(round_id);

-- One per invitation (or, in anonymous rounds, per anonymous key).
CREATE TABLE responses (
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    invitation_id INTEGER UNIQUE REFERENCES invitations(id),
    anonymous_key TEXT UNIQUE,
    group_name TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL DEFAULT '',
    questionnaire_version_id INTEGER NOT NULL REFERENCES questionnaire_versions(id),
    status TEXT NOT NULL DEFAULT 'started' CHECK (status IN ('started', 'complete')),
    current_section INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    last_saved_at TEXT,
    submitted_at TEXT,
    registered_by TEXT,
    registration_mode TEXT CHECK (registration_mode IS NULL OR registration_mode IN ('self', 'in_person', 'phone', 'self_completion')),
    reference_date TEXT,
    participants TEXT,
    source TEXT NOT NULL DEFAULT 'web',
    CHECK (invitation_id IS NULL OR anonymous_key IS NULL)
);
CREATE INDEX responses_round ON responses(round_id);

-- One row per response and item; value_num holds option codes and numbers, value_text the rest.
CREATE TABLE answers (
    response_id INTEGER NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    item_version INTEGER NOT NULL DEFAULT 1,
    value_num REAL,
    value_text TEXT,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (response_id, item_id)
) WITHOUT ROWID;

CREATE TABLE mails (
    id INTEGER PRIMARY KEY,
    invitation_id INTEGER NOT NULL REFERENCES invitations(id),
    kind TEXT NOT NULL CHECK (kind IN ('invitation', 'reminder')),
    step INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    error TEXT,
    at TEXT NOT NULL,
    UNIQUE (invitation_id, kind, step)
);

CREATE TABLE mail_templates (
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    kind TEXT NOT NULL CHECK (kind IN ('invitation', 'reminder')),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (round_id, kind)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'unit_lead', 'evaluator')),
    units TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    remote_addr TEXT,
    succeeded INTEGER NOT NULL,
    at TEXT NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    round_id INTEGER,
    details TEXT NOT NULL DEFAULT '{}'
);
