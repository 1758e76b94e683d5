"""tokens.find_visit: the answer pages' one query for link, round, person and response gives
what the separate look-ups give, and refuses what find_invitation refuses."""
from __future__ import annotations

from surveyapp import responses, rounds, tokens
from surveyapp.db import connect


def _db(bench, tmp_path, anonymous=False):
    prepared = bench.prepare(tmp_path / "v.db", 3, anonymous=anonymous)
    return connect(tmp_path / "v.db"), prepared


def test_same_as_the_separate_lookups(bench, tmp_path):
    db, prepared = _db(bench, tmp_path)
    secret = bench.SECRET
    token = prepared["tokens"][1]
    found = tokens.find_visit(db, secret, token)
    invitation = tokens.find_invitation(db, secret, token)
    assert found["invitation"] == invitation
    assert found["round"] == rounds.get_round(db, invitation["round_id"])
    person = db.execute("SELECT name, language FROM people WHERE id = ?", (invitation["person_id"],)).fetchone()
    assert found["person"] == {"name": person["name"], "language": person["language"]}
    assert found["response"] is None  # not started
    assert found["questionnaire_sha256"] is None
    started = responses.start_response(db, secret, token, invitation)
    again = tokens.find_visit(db, secret, token)
    assert again["response"] == started == responses.find_response(db, secret, token, invitation)
    version = db.execute("SELECT sha256 FROM questionnaire_versions WHERE id = ?",
                         (started["questionnaire_version_id"],)).fetchone()
    assert again["questionnaire_sha256"] == version["sha256"]
    # Another respondent's visit does not see this response.
    assert tokens.find_visit(db, secret, prepared["tokens"][2])["response"] is None


def test_refuses_unknown_and_forged_tokens(bench, tmp_path):
    db, prepared = _db(bench, tmp_path)
    secret = bench.SECRET
    assert tokens.find_visit(db, secret, "x" * 43) is None
    assert tokens.find_visit(db, "another-secret", prepared["tokens"][0]) is None  # hash found, HMAC fails
    assert tokens.find_visit(db, secret, "not a token") is None


def test_anonymous_round_never_joins_the_response(bench, tmp_path):
    db, prepared = _db(bench, tmp_path, anonymous=True)
    secret = bench.SECRET
    token = prepared["tokens"][0]
    invitation = tokens.find_invitation(db, secret, token)
    responses.start_response(db, secret, token, invitation)
    found = tokens.find_visit(db, secret, token)
    assert found["response"] is tokens.NO_RESPONSE_LOOKED_UP
    assert found["questionnaire_sha256"] is None  # nor its version
    assert found["invitation"] == invitation


def _read_calls() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("syscr"))


def test_the_version_hash_is_read_without_the_versions_yaml(bench, tmp_path):
    """find_visit reads the questionnaire version's hash from an index: the pages it reads do not
    grow with the YAML. (Reading the hash from the row walks the YAML's overflow pages, again after
    every commit by another connection, which under load is every request.)"""
    import sqlite3

    db, prepared = _db(bench, tmp_path)
    token = prepared["tokens"][1]
    responses.start_response(db, bench.SECRET, token, tokens.find_invitation(db, bench.SECRET, token))
    other = sqlite3.connect(tmp_path / "v.db", isolation_level=None)
    other.execute("CREATE TABLE other_writes (n INTEGER)")

    def reads_after_another_commit() -> int:
        other.execute("INSERT INTO other_writes VALUES (1)")  # empties db's page cache (WAL mode)
        before = _read_calls()
        assert tokens.find_visit(db, bench.SECRET, token)["questionnaire_sha256"]
        return _read_calls() - before

    reads_after_another_commit()  # the first one also re-reads the schema (other_writes is new)
    small = reads_after_another_commit()
    # the same version row holding a 200 kB YAML (about 50 overflow pages)
    other.execute("UPDATE questionnaire_versions SET yaml = yaml || ? ", ("\n# " + "x" * 200_000,))
    assert reads_after_another_commit() == small
    other.close()
