"""Respondent and response imports from CSV and XLSX: good files go in whole, a file with any
bad row stores nothing and names every bad row's line and column."""
from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest

from surveyapp import tokens
from surveyapp.db import connect


@pytest.fixture
def round_(cli, small_yaml):
    cli("questionnaire", "load", small_yaml)
    cli("round", "create", "--name", "R1", "--questionnaire", "small", "--project", "p")
    return "R1"


def counts(db_path) -> dict:
    db = connect(db_path)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("people", "invitations", "responses", "answers")}
    finally:
        db.conn.close()


def xlsx(path, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def stderr_rows(result) -> list[str]:
    """The per-row lines of an import error (after the one-line summary)."""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and "nothing imported" in lines[0]
    return lines[1:]


# ---------------------------------------------------------------- respondents


def test_respondents_csv_imports_every_column(cli, db_path, round_, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("key,email,name,group,unit,language,afdeling\n"
                    "P1,anna@example.org,Anna,staff,Horsens,da,Skole\n"
                    "P2,bo@example.org,Bo,lead,Horsens,EN,\n"
                    ",Carl@Example.org,Carl,staff,Vejle,,Dagtilbud\n", encoding="utf-8")
    result = cli("respondents", "import", round_, path)
    assert result.stdout.strip() == "imported 3 respondent(s)"
    rows = {r["key"]: r for r in cli.json("respondents", "list", round_, "--format", "json")}
    # Without a key, the e-mail address (case-folded) is the panel key.
    assert set(rows) == {"P1", "P2", "carl@example.org"}
    assert (rows["P1"]["group_name"], rows["P1"]["unit"], rows["P1"]["attributes"]) == ("staff", "Horsens", {"afdeling": "Skole"})
    assert rows["P2"]["language"] == "en" and rows["P2"]["attributes"] == {}
    assert rows["carl@example.org"]["email"] == "Carl@Example.org"
    assert counts(db_path)["invitations"] == 3


def test_respondents_semicolon_cp1252_csv(cli, db_path, round_, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("key;name;group;unit\r\nP1;Søren Ærø;staff;Århus\r\nP2;Åse Øster;lead;Køge\r\n".encode("cp1252"))
    cli("respondents", "import", round_, path)
    rows = {r["key"]: r for r in cli.json("respondents", "list", round_, "--format", "json")}
    assert rows["P1"]["name"] == "Søren Ærø" and rows["P1"]["unit"] == "Århus"
    assert rows["P2"]["name"] == "Åse Øster" and rows["P2"]["unit"] == "Køge"


def test_respondents_xlsx(cli, round_, tmp_path):
    path = xlsx(tmp_path / "list.xlsx", [["key", "name", "group", "unit", "anciennitet"],
                                         [1001, "Anna", "staff", "Horsens", 12],
                                         [None, None, None, None, None],  # empty rows are skipped
                                         [1002, "Bo", "lead", "Vejle", 3.0]])
    assert cli("respondents", "import", round_, path).stdout.strip() == "imported 2 respondent(s)"
    rows = {r["key"]: r for r in cli.json("respondents", "list", round_, "--format", "json")}
    # Numbers from spreadsheet cells become the text people typed, not 1001.0.
    assert set(rows) == {"1001", "1002"}
    assert rows["1002"]["attributes"] == {"anciennitet": "3"}


def test_respondents_bad_row_imports_nothing(cli, db_path, round_, tmp_path):
    cli("respondents", "import", round_, _csv(tmp_path / "first.csv", "key,group\nP0,staff\n"))
    before = counts(db_path)
    path = _csv(tmp_path / "list.csv", "key,email,group\nP1,a@example.org,staff\nP2,not-an-address,staff\nP3,c@example.org,lead\n")
    result = cli("respondents", "import", round_, path, ok=False)
    assert result.exit_code == 1
    assert stderr_rows(result) == [f"{path}: line 3, column email: 'not-an-address' is not an e-mail address"]
    assert counts(db_path) == before


def test_respondents_every_bad_row_is_listed(cli, db_path, round_, tmp_path):
    cli("respondents", "import", round_, _csv(tmp_path / "first.csv", "key,group\nP0,staff\n"))
    before = counts(db_path)
    path = _csv(tmp_path / "list.csv",
                'key,email,group,language,note\n'
                'P1,,staff,da,ok\n'
                ',,staff,,"a note\nover two lines"\n'     # lines 3-4: neither key nor email
                'P1,,staff,,\n'                          # line 5: duplicate of line 2
                'P4,,staff,de,\n'                        # line 6: bad language
                'P0,,staff,,\n')                         # line 7: already on the list
    result = cli("respondents", "import", round_, path, ok=False)
    rows = stderr_rows(result)
    assert rows == [
        f"{path}: line 3, column key: neither key nor email is given",
        f"{path}: line 5, column key: 'P1' appears twice in the file (first at line 2)",
        f"{path}: line 6, column language: language must be da or en, not 'de'",
        f"{path}: line 7, column key: 'P0' is already on this round's list",
    ]
    assert counts(db_path) == before


def test_respondents_bad_xlsx_row_names_line_and_column(cli, db_path, tmp_path, small_yaml):
    cli("questionnaire", "load", small_yaml)
    # A round with one questionnaire per group: the group column must name one of them.
    cli("round", "create", "--name", "R2", "--questionnaire", "staff=small", "--questionnaire", "lead=small")
    path = xlsx(tmp_path / "list.xlsx", [["key", "group"], ["P1", "staff"], ["P2", "lead"], [None, None],
                                         ["P3", "borgere"], ["P4", None], ["P5", "lead", "stray"]])
    result = cli("respondents", "import", "R2", path, ok=False)
    # Lines as the spreadsheet shows them: the blank row 4 still counts.
    assert stderr_rows(result) == [f"{path}: line 7, column -: a value in column 3, which has no name in the header"]
    path = xlsx(tmp_path / "list.xlsx", [["key", "group"], ["P1", "staff"], ["P2", "lead"], [None, None],
                                         ["P3", "borgere"], ["P4", None]])
    result = cli("respondents", "import", "R2", path, ok=False)
    assert stderr_rows(result) == [
        f"{path}: line 5, column group: unknown group 'borgere' (this round has lead, staff)",
        f"{path}: line 6, column group: group is required (one of lead, staff)",
    ]
    assert counts(db_path)["invitations"] == 0


def test_respondents_file_without_key_or_email_column(cli, round_, tmp_path):
    path = _csv(tmp_path / "list.csv", "navn,group\nAnna,staff\n")
    result = cli("respondents", "import", round_, path, ok=False)
    assert stderr_rows(result) == [f"{path}: line 1, column key: the file needs a column 'key' or 'email'"]


def test_csv_starting_with_pk_is_not_taken_for_xlsx(cli, round_, tmp_path):
    path = _csv(tmp_path / "list.txt", "PK_nummer,key,group\n17,P1,staff\n")
    cli("respondents", "import", round_, path)
    assert cli.json("respondents", "list", round_, "--format", "json")[0]["attributes"] == {"PK_nummer": "17"}


def test_csv_with_more_cells_than_columns_is_refused(cli, db_path, round_, tmp_path):
    path = _csv(tmp_path / "list.csv", "key,group\nP1,staff\nP2,staff,extra\n")
    result = cli("respondents", "import", round_, path, ok=False)
    assert stderr_rows(result) == [f"{path}: line 3, column -: 3 cells but the header has 2 columns"]
    assert counts(db_path)["invitations"] == 0


def _csv(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- responses


@pytest.fixture
def listed(cli, round_, tmp_path):
    cli("respondents", "import", round_, _csv(tmp_path / "list.csv",
        "key,email,group,unit\nP1,p1@example.org,staff,A\nP2,,staff,A\nP3,,lead,B\nP4,,staff,B\nP5,,lead,B\n"))
    return round_


def answers_of(db_path) -> dict:
    db = connect(db_path)
    try:
        out = {}
        for row in db.query("SELECT p.key, r.status, r.submitted_at, r.source, a.item_id, a.value_num, a.value_text, a.item_version "
                            "FROM responses r JOIN invitations i ON i.id = r.invitation_id JOIN people p ON p.id = i.person_id "
                            "LEFT JOIN answers a ON a.response_id = r.id"):
            entry = out.setdefault(row["key"], {"status": row["status"], "submitted_at": row["submitted_at"],
                                                "source": row["source"], "answers": {}})
            if row["item_id"]:
                entry["answers"][row["item_id"]] = row["value_num"] if row["value_num"] is not None else row["value_text"]
        return out
    finally:
        db.conn.close()


def test_responses_csv_with_codes_labels_and_status(cli, db_path, listed, tmp_path):
    path = _csv(tmp_path / "answers.csv",
                "key,status,submitted_at,q1,q2,q3,q4,q5,q6\n"
                "P1,complete,2013-03-05T10:15:00,4,I nogen grad,ved ikke,,,\n"
                "P2,partial,,1,2,,,Slet ikke,\n"
                "P3,,2013-03-07,3.0,,,,,I HØJ GRAD\n")
    result = cli("responses", "import", listed, path)
    assert result.stdout.strip() == "imported 3 response(s) with 8 answer(s)"
    got = answers_of(db_path)
    assert got["P1"] == {"status": "complete", "submitted_at": "2013-03-05T10:15:00", "source": "import",
                         "answers": {"q1": 4.0, "q2": 3.0, "q3": 9.0}}
    # partial: not submitted; q5 is allowed because q1 = 1 (Slet ikke) shows it.
    assert got["P2"]["status"] == "started" and got["P2"]["submitted_at"] is None
    assert got["P2"]["answers"] == {"q1": 1.0, "q2": 2.0, "q5": 1.0}
    # status defaults to complete; q6 is a managers' item and P3 is a manager.
    assert got["P3"]["status"] == "complete" and got["P3"]["answers"] == {"q1": 3.0, "q6": 4.0}
    db = connect(db_path)
    flags = {r["key"]: (r["started"], r["completed"]) for r in db.query(
        "SELECT p.key, i.started, i.completed FROM invitations i JOIN people p ON p.id = i.person_id")}
    db.conn.close()
    assert flags == {"P1": (1, 1), "P2": (1, 0), "P3": (1, 1), "P4": (0, 0), "P5": (0, 0)}


def test_responses_xlsx_with_numbers_and_dates(cli, db_path, listed, tmp_path):
    path = xlsx(tmp_path / "answers.xlsx", [["email", "q1", "q2", "submitted_at"],
                                            ["P1@example.org", 4, 2.0, dt.datetime(2013, 3, 5, 9, 30)]])
    cli("responses", "import", listed, path)
    assert answers_of(db_path)["P1"]["answers"] == {"q1": 4.0, "q2": 2.0}
    assert answers_of(db_path)["P1"]["submitted_at"] == "2013-03-05T09:30:00"


def test_responses_semicolon_cp1252_labels(cli, db_path, listed, tmp_path):
    path = _csv(tmp_path / "answers.csv", "key;q1;q2\r\nP4;I høj grad;Ved ikke\r\n", encoding="cp1252")
    cli("responses", "import", listed, path)
    assert answers_of(db_path)["P4"]["answers"] == {"q1": 4.0, "q2": 9.0}


def test_responses_one_bad_cell_imports_nothing(cli, db_path, listed, tmp_path):
    before = counts(db_path)
    path = _csv(tmp_path / "answers.csv", "key,q1,q2\nP1,4,3\nP2,3,7\nP4,2,2\n")
    result = cli("responses", "import", listed, path, ok=False)
    assert result.exit_code == 1
    assert stderr_rows(result) == [f"{path}: line 3, column q2: '7': Vælg en af svarmulighederne."]
    assert counts(db_path) == before


def test_responses_every_bad_row_is_listed(cli, db_path, listed, tmp_path):
    before = counts(db_path)
    path = _csv(tmp_path / "answers.csv",
                "key,status,submitted_at,q1,q5,q6,q99\n"
                "P1,complete,,4,,,\n"
                "P9,complete,,4,,,\n"             # 3: not on the list
                "P1,complete,,4,,,\n"             # 4: twice
                "P2,done,,4,,,\n"                 # 5: bad status
                "P4,,5/3/2013,4,,,\n"             # 6: bad date
                "P2,,,4,3,,\n"                    # 7: P2 again
                "P5,,,2,3,,\n"                    # 8: q5 hidden (q1 is not 1)
                "P3,,,,,,\n")                     # 9: fine
    result = cli("responses", "import", listed, path, ok=False)
    rows = stderr_rows(result)
    assert rows == [
        f"{path}: line 1, column q99: 'q99' is not an item of this round's questionnaires (and not one of key, email, status, submitted_at, name, group, unit)",
        f"{path}: line 3, column key: 'P9' is not on the round's list",
        f"{path}: line 4, column key: 'P1' appears twice in the file (first at line 2)",
        f"{path}: line 5, column status: status must be complete or partial, not 'done'",
        f"{path}: line 6, column submitted_at: '5/3/2013' is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)",
        f"{path}: line 7, column key: 'P2' appears twice in the file (first at line 5)",
        f"{path}: line 8, column q5: answered, but the answer to 'q1' hides it (show_if); leave the cell blank",
    ]
    assert counts(db_path) == before


def test_responses_group_rule_and_existing_response(cli, db_path, listed, tmp_path):
    bad = _csv(tmp_path / "bad.csv", "key,q6\nP2,4\n")
    result = cli("responses", "import", listed, bad, ok=False)
    assert stderr_rows(result) == [f"{bad}: line 2, column q6: answered, but the item is not asked of group 'staff'; leave the cell blank"]
    good = _csv(tmp_path / "good.csv", "key,q1\nP2,4\n")
    cli("responses", "import", listed, good)
    again = cli("responses", "import", listed, good, ok=False)
    assert stderr_rows(again) == [f"{good}: line 2, column key: 'P2' already has a response in this round"]
    assert counts(db_path)["responses"] == 1


def test_responses_anonymous_round_import_keeps_no_link(cli, db_path, small_yaml, tmp_path):
    cli("questionnaire", "load", small_yaml)
    cli("round", "create", "--name", "Anon", "--questionnaire", "small", "--anonymous")
    cli("respondents", "import", "Anon", _csv(tmp_path / "list.csv", "key,group,unit\nP1,staff,A\nP2,staff,A\n"))
    path = _csv(tmp_path / "answers.csv", "key,submitted_at,q1\nP1,2014-09-03T08:12:55,4\n")
    cli("responses", "import", "Anon", path)
    db = connect(db_path)
    row = dict(db.execute("SELECT invitation_id, anonymous_key, group_name, unit, submitted_at FROM responses").fetchone())
    # No link to the person; the time of day is dropped so the order of answering tells nothing.
    assert row == {"invitation_id": None, "anonymous_key": None, "group_name": "staff", "unit": "A", "submitted_at": "2014-09-03"}
    completed = dict(db.execute("SELECT p.key, i.completed FROM invitations i JOIN people p ON p.id = i.person_id").fetchall())
    db.conn.close()
    assert completed == {"P1": 1, "P2": 0}
    # A second import for the same person is refused even though no response row names them.
    again = cli("responses", "import", "Anon", path, ok=False)
    assert stderr_rows(again) == [f"{path}: line 2, column key: 'P1' already has a response in this round"]


def test_import_error_output_is_valid_for_scripts(cli, listed, tmp_path):
    """The rejected import prints nothing on stdout: scripts that parse stdout see no partial output."""
    path = _csv(tmp_path / "answers.csv", "key,q1\nP1,x\n")
    result = cli("responses", "import", listed, path, ok=False)
    assert result.stdout == "" and result.exit_code == 1


def test_links_resolve_to_their_invitations(cli, db_path, listed, secret):
    links = cli.json("invitations", "links", listed, "--format", "json")
    assert sorted(link["key"] for link in links) == ["P1", "P2", "P3", "P4", "P5"]
    db = connect(db_path)
    for link in links:
        assert link["url"].startswith("http://testserver/s/")
        token = link["url"].rsplit("/", 1)[1]
        invitation = tokens.find_invitation(db, secret, token)
        person = db.execute("SELECT key FROM people WHERE id = ?", (invitation["person_id"],)).fetchone()[0]
        assert person == link["key"]
        # Only a hash of the token is stored.
        assert token not in json.dumps([dict(r) for r in db.query("SELECT * FROM invitations")])
    assert tokens.find_invitation(db, "another-secret", links[0]["url"].rsplit("/", 1)[1]) is None
    db.conn.close()
    csv_out = cli("invitations", "links", listed).stdout.splitlines()
    assert csv_out[0] == "key,email,group,unit,url" and len(csv_out) == 6


def test_anonymous_import_does_not_keep_the_file_order(cli, db_path, small_yaml, tmp_path):
    cli("questionnaire", "load", small_yaml)
    cli("round", "create", "--name", "Anon", "--questionnaire", "small", "--anonymous")
    keys = [f"P{n:02d}" for n in range(40)]
    cli("respondents", "import", "Anon", _csv(tmp_path / "list.csv", "key,group\n" + "".join(f"{k},staff\n" for k in keys)))
    # Each respondent gets a distinct answer pattern, so the stored rows can be traced to file lines.
    patterns = [(1 + n % 4, 1 + n // 4 % 4, 1 + n // 16 % 4) for n in range(40)]
    body = "".join(f"{k},{a},{b},{c}\n" for k, (a, b, c) in zip(keys, patterns))
    cli("responses", "import", "Anon", _csv(tmp_path / "answers.csv", "key,q2,q3,q4\n" + body))
    db = connect(db_path)
    stored = [tuple(int(v) for v in row) for row in db.execute(
        "SELECT MAX(CASE item_id WHEN 'q2' THEN value_num END), MAX(CASE item_id WHEN 'q3' THEN value_num END), "
        "MAX(CASE item_id WHEN 'q4' THEN value_num END) FROM answers GROUP BY response_id ORDER BY response_id")]
    db.conn.close()
    assert sorted(stored) == sorted(patterns)
    assert stored != patterns  # 1 in 40! that a shuffle keeps the order


def test_import_reads_cells_exactly_as_the_answer_pages_do(db, secret, tmp_path):
    """Codes win over labels, labels match in any case and in English: the import's fast path
    and parse_answer (the answer pages' rule) agree on every spelling."""
    from surveyapp import questionnaire_store, respondents, responses, rounds
    from surveyapp.questionnaire import AnswerError, parse, parse_answer

    text = ("id: tricky\ntitle: T\nsections:\n  - id: s\n    title: S\n    items:\n"
            "      - id: v\n        type: single\n        text: V\n        options:\n"
            "          - {code: 1, label: \"2\", label_en: Two}\n          - {code: 2, label: To, label_en: \"1\"}\n"
            "        missing:\n          - {code: 9, label: Ved ikke, label_en: Don't know}\n")
    q = parse(text, "tricky.yaml")
    questionnaire_store.register(db, q, text, "tricky.yaml")
    rounds.create_round(db, "T", {"": "tricky"}, "p")
    cells = ["1", "2", "2.0", "9", "To", "to", "TWO", "two", "Ved ikke", "VED IKKE", "don't know", "1.0"]
    respondents.import_respondents(db, "T", data=("key\n" + "".join(f"k{n}\n" for n in range(len(cells)))).encode(),
                                   filename="l.csv", secret=secret)
    body = "key,v\n" + "".join(f"k{n},{cell}\n" for n, cell in enumerate(cells))
    responses.import_responses(db, "T", data=body.encode(), filename="a.csv")
    stored = {r[0]: r[1] for r in db.execute(
        "SELECT p.key, a.value_num FROM answers a JOIN responses r ON r.id = a.response_id "
        "JOIN invitations i ON i.id = r.invitation_id JOIN people p ON p.id = i.person_id").fetchall()}
    for n, cell in enumerate(cells):
        assert stored[f"k{n}"] == parse_answer(q, q.item("v"), cell)[0], cell
    assert stored["k1"] == 2.0 and stored["k0"] == 1.0  # "2" is the code 2, not the label of code 1
    with pytest.raises(AnswerError):
        parse_answer(q, q.item("v"), "3")


def test_rows_without_answers_are_non_respondents_not_responses(cli, db_path, listed, tmp_path):
    # Exports from other tools often list everyone invited.
    path = _csv(tmp_path / "answers.csv", "key,status,q1,q2\nP1,,4,3\nP2,,,\nP3,partial,,\nP4,complete,,\nP5,,,\n")
    result = cli("responses", "import", listed, path)
    assert result.stdout.strip() == "imported 2 response(s) with 2 answer(s); skipped 3 row(s) without answers"
    got = answers_of(db_path)
    # P4 said explicitly that it submitted an empty questionnaire; P2, P3 and P5 did not respond.
    assert set(got) == {"P1", "P4"} and got["P4"] == {**got["P4"], "status": "complete", "answers": {}}
    rates = cli.json("report", "response-rates", "--round", listed, "--format", "json")[0]
    assert (rates["invited"], rates["started"], rates["complete"]) == (5, 2, 2)


def test_copy_list_and_bringing_back_a_removed_respondent(db, secret, small_yaml):
    from surveyapp import questionnaire_store, respondents, rounds
    from surveyapp.errors import Conflict

    questionnaire_store.load(db, small_yaml)
    first = rounds.create_round(db, "R1", {"lead": "small", "staff": "small"}, "p")
    second = rounds.create_round(db, "R2", {"staff": "small"}, "p")
    r1, r2 = rounds.get_round(db, first), rounds.get_round(db, second)
    ids = {key: respondents.add_invitation(db, r1, {"key": key, "group": group, "unit": "A"}, secret)
           for key, group in (("s1", "staff"), ("s2", "staff"), ("s3", "staff"), ("l1", "lead"))}
    respondents.mark_ineligible(db, ids["s3"], "fratrådt")
    already = respondents.add_invitation(db, r2, {"key": "s2", "group": "staff", "unit": "B"}, secret)
    # s1 copied; s2 already on R2's list, s3 ineligible, l1 in a group R2 has no questionnaire for.
    assert respondents.copy_list(db, "R1", "R2", secret) == {"added": 1, "skipped": 3}
    assert sorted(r["key"] for r in respondents.list_respondents(db, "R2")) == ["s1", "s2"]
    # On the list: refused. Removed, then added again: the same invitation comes back, with the new unit.
    with pytest.raises(Conflict):
        respondents.add_invitation(db, r2, {"key": "s2", "group": "staff", "unit": "C"}, secret)
    respondents.remove_respondent(db, already)
    assert respondents.add_invitation(db, r2, {"key": "s2", "group": "staff", "unit": "C"}, secret) == already
    assert respondents.get_invitation(db, already)["removed_at"] is None
    assert respondents.get_invitation(db, already)["unit"] == "C"


def test_copy_list_into_a_closed_round_is_refused_and_adds_nobody(db, secret, small_yaml):
    from surveyapp import questionnaire_store, respondents, rounds
    from surveyapp.errors import Conflict

    questionnaire_store.load(db, small_yaml)
    first = rounds.create_round(db, "R1", {"staff": "small"}, "p")
    second = rounds.create_round(db, "R2", {"staff": "small"}, "p")
    respondents.add_invitation(db, rounds.get_round(db, first), {"key": "s1", "group": "staff"}, secret)
    rounds.open_round(db, second)
    rounds.close_round(db, second)
    with pytest.raises(Conflict, match="closed"):
        respondents.copy_list(db, "R1", "R2", secret)
    assert respondents.list_respondents(db, "R2") == []
