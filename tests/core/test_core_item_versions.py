"""Item versions: a reworded item under an unchanged version is refused once that version has
answers, with FILE:LINE pointing at the wording; allowed before answers; allowed with a bump."""
from __future__ import annotations

import json

from surveyapp import questionnaire_store, respondents, responses, rounds

from survey_yaml import SMALL_YAML


def _load(cli, path):
    return json.loads(cli("questionnaire", "load", path, "--format", "json").stdout)[0]


def _answer_q1(db, secret, tmp_path, round_name: str):
    round_ = rounds.get_round(db, round_name)
    respondents.import_respondents(db, round_name, data=b"key,group\nP1,staff\n", filename="list.csv", secret=secret)
    responses.import_responses(db, round_name, data=b"key,q1\nP1,3\n", filename="answers.csv")
    return round_


def test_wording_change_rules(cli, db, secret, tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML, encoding="utf-8")
    assert _load(cli, path) == {"questionnaire": "small", "version": 1, "new": True}
    # Unchanged file: same version.
    assert _load(cli, path) == {"questionnaire": "small", "version": 1, "new": False}

    # Reworded before anyone answered: allowed, a new questionnaire version, the stored wording follows.
    reworded = SMALL_YAML.replace("Spørgsmål et", "Spørgsmål nummer et")
    path.write_text(reworded, encoding="utf-8")
    assert _load(cli, path) == {"questionnaire": "small", "version": 2, "new": True}
    assert db.execute("SELECT text FROM item_versions WHERE questionnaire_id = 'small' AND item_id = 'q1' "
                      "AND item_version = 1").fetchone()[0] == "Spørgsmål nummer et"

    # Version 2 is run and q1 (item version 1) gets an answer.
    rounds.create_round(db, "R1", {"": "small"}, "p")
    _answer_q1(db, secret, tmp_path, "R1")
    assert questionnaire_store.item_version_has_answers(db, "small", "q1", 1)

    # Now rewording q1 under version 1 is refused, pointing at the line of its text.
    changed = reworded.replace("Spørgsmål nummer et", "Et helt andet spørgsmål")
    path.write_text(changed, encoding="utf-8")
    line = next(n for n, text in enumerate(changed.splitlines(), 1) if "Et helt andet" in text)
    result = cli("questionnaire", "load", path, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:{line}: item 'q1' changed its wording but kept version 1")
    assert "version 2" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert [r["version"] for r in cli.json("questionnaire", "list", "--format", "json")] == [1, 2]
    # `check` knows nothing of the database and accepts the file as such.
    assert cli("questionnaire", "check", path).exit_code == 0

    # Rewording another item that has no answers yet (q2) in the same version is still fine...
    path.write_text(reworded.replace("Spørgsmål to", "Spørgsmål nummer to"), encoding="utf-8")
    assert _load(cli, path)["version"] == 3
    # ...and q1 with a version bump is accepted: the old answers keep their meaning.
    bumped = reworded.replace("{id: q1, text: Spørgsmål nummer et, scale: grad4}",
                              "{id: q1, text: Et helt andet spørgsmål, scale: grad4, version: 2}")
    assert bumped != reworded
    path.write_text(bumped, encoding="utf-8")
    assert _load(cli, path) == {"questionnaire": "small", "version": 4, "new": True}
    texts = dict(db.execute("SELECT item_version, text FROM item_versions WHERE questionnaire_id = 'small' "
                            "AND item_id = 'q1'").fetchall())
    assert texts == {1: "Spørgsmål nummer et", 2: "Et helt andet spørgsmål"}
    # The stored answer still says which wording it was given to.
    assert db.execute("SELECT item_version FROM answers WHERE item_id = 'q1'").fetchone()[0] == 1


def test_line_endings_and_bom_do_not_make_a_new_version(cli, tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML, encoding="utf-8")
    assert _load(cli, path)["version"] == 1
    path.write_bytes(b"\xef\xbb\xbf" + SMALL_YAML.replace("\n", "\r\n").encode("utf-8"))
    assert _load(cli, path) == {"questionnaire": "small", "version": 1, "new": False}
    path.write_text(SMALL_YAML + "# a comment is a change\n", encoding="utf-8")
    assert _load(cli, path) == {"questionnaire": "small", "version": 2, "new": True}
