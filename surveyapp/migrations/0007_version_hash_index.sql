-- A version's hash by its id, without reading the version's row. Every answer request reads the
-- hash of its questionnaire version (the key of the per-process cache of parsed versions), and
-- the row holds the whole YAML before the hash: reading the hash from the row walks the YAML's
-- overflow pages, one read each (4-12 for real questionnaires) whenever another connection has
-- committed since, which under load is nearly always. The queries name this index (INDEXED BY).
CREATE INDEX questionnaire_versions_id_sha256 ON questionnaire_versions (id, sha256);
