"""Privacy of answer-level (microdata) exports, through the real command line and the web download
on real SQLite files (analysis.md "Small numbers and anonymity"; issues 5 and 8):

- respondents are identified by a pseudonym (a keyed hash of the panel key under the instance
  secret), stable across rounds; people.key, names and emails appear nowhere in the file bytes;
  `--identify` exports the real key and the codebook says which was used;
- in personal questionnaires, rows of a round x group x unit cell below the project's minimum n
  lose their unit, free text and attributes; larger cells are untouched;
- personal: false questionnaires (a unit answering for itself) are exempt.

The project here is small and written out in full, so every expectation is worked by hand."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import textwrap
import zipfile

import openpyxl
import pyreadstat
import pytest
from click.testing import CliRunner

from surveyapp import questionnaire_store, respondents, rounds, users
from surveyapp.cli import main
from surveyapp.db import transaction
from surveyapp.responses import import_responses
from survey_yaml import GRAD4_SCALES

MIN_N = 4   # the project's minimum n (not the default 5, so the rule must read the project)

STAFF_YAML = textwrap.dedent("""\
    id: p-staff
    title: Medarbejdere (privatliv)
    personal: true
    """) + GRAD4_SCALES + textwrap.dedent("""\
    sections:
      - id: s1
        title: Del 1
        items:
          - {id: q1, text: 'Samarbejdet er godt', scale: grad4}
          - {id: q2, text: 'Ledelsen er synlig', scale: grad4}
          - {id: kommentar, type: text, text: 'Kommentar'}
    """)

FID_YAML = textwrap.dedent("""\
    id: p-fid
    title: Implementering (for enheden)
    personal: false
    sections:
      - id: s1
        title: Del 1
        items:
          - {id: f1, text: 'Er redskabet indført?', options: [{code: 1, label: Ja}, {code: 0, label: Nej}]}
          - {id: note, type: text, text: 'Bemærkning'}
    """)

R1, R2 = "Runde 1", "Runde 2"
# person: (unit in round 1 or None, unit in round 2 or None), with MIN_N = 4 counted responses
# (complete + valid partial) per round x group x unit:
#   round 1: A 4 counted (= MIN_N: shown), B 3 counted + the break-off b3 (4 rows, still too few),
#            C 1;
#   round 2: A 6 (a1-a5 and c1), B 2, D 1.
# Two small units in each round, so no complementary blanking is needed and A stays as it is —
# except c1, who moves from C to A in round 2 and whose every row is blanked (the stable id would
# otherwise carry the unit over from round 2 to round 1).
PEOPLE = {
    "PK-a1-7Q": ("A", "A"), "PK-a2-7Q": ("A", "A"), "PK-a3-7Q": ("A", "A"), "PK-a4-7Q": ("A", "A"),
    "PK-a5-7Q": (None, "A"),
    "PK-b1-7Q": ("B", "B"), "PK-b2-7Q": ("B", "B"), "PK-b3-7Q": ("B", None), "PK-b4-7Q": ("B", None),
    "PK-c1-7Q": ("C", "A"),
    "PK-d1-7Q": (None, "D"),
}
BREAK_OFF = "PK-b3-7Q"          # started, answered 1 of 3 items: not counted
SMALL = [k for k in PEOPLE if k[3] in "bcd"]     # blanked in every row they have
LARGE = [k for k in PEOPLE if k not in SMALL]


def name_of(key: str) -> str:
    return f"Navnesen {key[3:5].upper()}"


def email_of(key: str) -> str:
    return f"{key[3:5]}.mail@kommune-test.dk"


def text_of(key: str, round_no: int) -> str:
    return f"fritekst {key[3:5]} runde {round_no}"


def attribute_of(key: str) -> str:
    return f"attr-{key[3:5]}"


def _csv(rows: list[dict], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture
def project(db, tmp_path, secret):
    (tmp_path / "staff.yaml").write_text(STAFF_YAML, encoding="utf-8")
    (tmp_path / "fid.yaml").write_text(FID_YAML, encoding="utf-8")
    with transaction(db):
        rounds.ensure_project(db, "priv", "Privatliv", min_n=MIN_N)
        rounds.ensure_project(db, "fid", "Implementering", min_n=5)
    questionnaire_store.load(db, tmp_path / "staff.yaml")
    questionnaire_store.load(db, tmp_path / "fid.yaml")
    for round_no, name, opens in ((1, R1, "2013-03-04"), (2, R2, "2013-09-02")):
        rid = rounds.create_round(db, name, {"medarbejdere": "p-staff"}, "priv", opens)
        with transaction(db):
            for key, units in PEOPLE.items():
                if units[round_no - 1] is None:
                    continue
                respondents.add_invitation(db, rounds.get_round(db, rid), {
                    "key": key, "name": name_of(key), "email": email_of(key), "group": "medarbejdere",
                    "unit": units[round_no - 1], "attributes": {"afdeling": attribute_of(key)}}, secret)
        rounds.open_round(db, rid)
        rows = []
        for key, units in PEOPLE.items():
            if units[round_no - 1] is None:
                continue
            if key == BREAK_OFF:
                rows.append({"key": key, "status": "partial", "q1": 2, "q2": "", "kommentar": ""})
            else:
                rows.append({"key": key, "status": "complete", "q1": 4 if units[round_no - 1] == "A" else 2, "q2": 3,
                             "kommentar": text_of(key, round_no)})
        import_responses(db, rid, data=_csv(rows, ["key", "status", "q1", "q2", "kommentar"]), filename="svar.csv")
    fid = rounds.create_round(db, "Måling 1", {"": "p-fid"}, "fid", "2014-01-06")
    with transaction(db):
        for unit in ("Enhed-X", "Enhed-Y"):
            respondents.add_invitation(db, rounds.get_round(db, fid), {"key": f"FK-{unit}", "unit": unit}, secret)
    rounds.open_round(db, fid)
    import_responses(db, fid, data=_csv([{"key": "FK-Enhed-X", "status": "complete", "f1": 1, "note": "note fra X"},
                                         {"key": "FK-Enhed-Y", "status": "complete", "f1": 0, "note": "note fra Y"}],
                                        ["key", "status", "f1", "note"]), filename="fid.csv")
    return db


def run(db_path, *args):
    result = CliRunner().invoke(main, ["--db", str(db_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def expected_id(secret: str, project: str, key: str) -> str:
    """The pseudonym computed here from its definition: HMAC-SHA256 under the secret, 16 hex chars."""
    return hmac.new(secret.encode(), f"export-person:{project}:{key}".encode(), hashlib.sha256).hexdigest()[:16]


def all_bytes(path) -> bytes:
    """The file's bytes; for XLSX (a zip) the bytes of every member, uncompressed."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    return path.read_bytes()


def assert_no_identities(blob: bytes, keys=PEOPLE) -> None:
    for key in keys:
        assert key.encode() not in blob, key
        assert name_of(key).encode() not in blob and email_of(key).encode() not in blob
    assert b"kommune-test.dk" not in blob and b"Navnesen" not in blob


def read_rows(path) -> list[dict]:
    if path.suffix == ".csv":
        return list(csv.DictReader(path.open(encoding="utf-8-sig")))
    if path.suffix == ".xlsx":
        values = list(openpyxl.load_workbook(path)["data"].values)
        return [{h: ("" if v is None else v) for h, v in zip(values[0], row)} for row in values[1:]]
    frame, _ = pyreadstat.read_sav(str(path))
    return [{k: ("" if v != v else v) for k, v in row.items()} for row in frame.to_dict("records")]


def codebook_text(path) -> str:
    if path.suffix == ".xlsx":
        return "\n".join(" | ".join(str(c) for c in row) for row in openpyxl.load_workbook(path)["rules"].values)
    return path.with_name(path.stem + ".codebook.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav"])
def test_microdata_export_is_pseudonymous_and_blanks_small_cells(project, db_path, tmp_path, secret, fmt):
    out = tmp_path / "out" / f"svar.{fmt}"           # a folder of its own: only the export's files
    result = run(db_path, "export", "--project", "priv", "--format", fmt, "--out", str(out))
    assert "pseudonymous respondent_id" in result.stdout
    for file in out.parent.iterdir():                     # data file and codebook alike
        assert_no_identities(all_bytes(file))
    rows = read_rows(out)
    assert "key" not in rows[0] and "respondent_id" in rows[0]
    by_id = {expected_id(secret, "priv", key): key for key in PEOPLE}
    seen = {}
    for row in rows:
        key = by_id[row["respondent_id"]]                 # every id is the keyed hash of a known person
        round_no = 1 if row["round"] == R1 else 2
        seen.setdefault(key, []).append(round_no)
        unit = PEOPLE[key][round_no - 1]
        if key in SMALL:                                  # B, C, D (c1 in every round, though in A in round 2)
            assert row["unit"] == "" and row["kommentar"] == "" and row["afdeling"] == "", row
            assert row["q1"] in (2, "2", 2.0, 4, "4", 4.0)    # the closed answers stay
        else:                                             # A: untouched
            assert row["unit"] == unit == "A"
            assert row["kommentar"] == text_of(key, round_no)
            assert row["afdeling"] == attribute_of(key)
    assert len(rows) == 9 + 9                             # every response exported, blanked or not
    assert sorted(seen["PK-a1-7Q"]) == [1, 2] and sorted(seen["PK-b1-7Q"]) == [1, 2] and seen["PK-b3-7Q"] == [1]
    blob = b"".join(all_bytes(f) for f in out.parent.iterdir())
    for key in SMALL:
        for round_no in (1, 2):
            assert text_of(key, round_no).encode() not in blob
            assert attribute_of(key).encode() not in blob
    rules = codebook_text(out)
    assert "respondent_id" in rules and "HMAC-SHA256" in rules and "microdata_small_cells" in rules
    # Rows blanked: b1-b4, c1 in round 1; b1, b2, d1 and c1 (moved to A) in round 2.
    line = next(line for line in rules.splitlines() if "microdata_rows_blanked" in line)
    assert line.split("microdata_rows_blanked", 1)[1].strip(" ,|") == "9"


def test_pseudonyms_are_stable_across_rounds_and_exports_and_distinct_between_people(project, db_path, tmp_path, secret):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    run(db_path, "export", "--project", "priv", "--round", R1, "--format", "csv", "--out", str(first))
    run(db_path, "export", "--project", "priv", "--round", R2, "--format", "csv", "--out", str(second))
    ids_1 = {row["respondent_id"] for row in read_rows(first)}
    ids_2 = {row["respondent_id"] for row in read_rows(second)}
    assert len(ids_1) == 9 and len(ids_2) == 9            # different people, different ids
    # The same people keep their id in another round and export: only b3, b4 (round 1 only) and
    # a5, d1 (round 2 only) are in one file alone.
    assert len(ids_1 & ids_2) == 7
    assert ids_1 - ids_2 == {expected_id(secret, "priv", k) for k in ("PK-b3-7Q", "PK-b4-7Q")}
    assert ids_2 - ids_1 == {expected_id(secret, "priv", k) for k in ("PK-a5-7Q", "PK-d1-7Q")}
    for pid in ids_1:
        assert len(pid) == 16 and int(pid, 16) >= 0
    # Not an unkeyed hash of the key: without the secret the id cannot be recomputed.
    plain = {hashlib.sha256(k.encode()).hexdigest()[:16] for k in PEOPLE}
    assert not ids_1 & plain
    assert expected_id("another-secret", "priv", "PK-a1-7Q") not in ids_1


def test_wide_export_puts_each_member_on_one_row_under_the_pseudonym(project, db_path, tmp_path, secret):
    out = tmp_path / "wide.xlsx"
    run(db_path, "export", "--project", "priv", "--format", "xlsx", "--layout", "wide", "--out", str(out))
    assert_no_identities(all_bytes(out))
    rows = read_rows(out)
    assert [r for r in rows[0]][0] == "respondent_id"
    by_id = {r["respondent_id"]: r for r in rows}
    assert len(rows) == len(by_id) == len(PEOPLE)
    a1 = by_id[expected_id(secret, "priv", "PK-a1-7Q")]
    assert (a1["r1_unit"], a1["r2_unit"], a1["r1_kommentar"], a1["r2_kommentar"]) == ("A", "A", text_of("PK-a1-7Q", 1),
                                                                                      text_of("PK-a1-7Q", 2))
    b1 = by_id[expected_id(secret, "priv", "PK-b1-7Q")]
    assert (b1["r1_unit"], b1["r2_unit"], b1["r1_kommentar"], b1["r2_kommentar"]) == ("", "", "", "")
    assert (b1["r1_q1"], b1["r2_q1"]) == (2, 2)
    c1 = by_id[expected_id(secret, "priv", "PK-c1-7Q")]
    assert (c1["r1_unit"], c1["r2_unit"]) == ("", "")     # not given away by the round where A is large


def test_long_export_drops_the_free_text_of_small_cells(project, db_path, tmp_path):
    out = tmp_path / "long.csv"
    run(db_path, "export", "--project", "priv", "--format", "csv", "--layout", "long", "--out", str(out))
    rows = read_rows(out)
    texts = {r["value"] for r in rows if r["item"] == "kommentar"}
    assert texts == {text_of(k, n) for k in LARGE for n in (1, 2) if PEOPLE[k][n - 1] is not None}
    assert all(r["unit"] in ("A", "") for r in rows)
    assert_no_identities(all_bytes(out))


def test_identify_exports_the_real_key_and_says_so(project, db_path, tmp_path):
    out = tmp_path / "ident.csv"
    result = run(db_path, "export", "--project", "priv", "--format", "csv", "--identify", "--out", str(out))
    assert "real panel keys" in result.stdout
    rows = read_rows(out)
    assert "respondent_id" not in rows[0]
    assert {r["key"] for r in rows} == set(PEOPLE)
    blob = all_bytes(out)
    assert b"Navnesen" not in blob and b"kommune-test.dk" not in blob     # still no names or emails
    b1 = next(r for r in rows if r["key"] == "PK-b1-7Q")
    assert b1["unit"] == "" and b1["kommentar"] == ""                     # small cells stay blanked
    rules = codebook_text(out)
    assert "key: the real panel key (people.key), exported with --identify" in rules


def test_not_personal_questionnaires_are_exempt(project, db_path, tmp_path, secret):
    out = tmp_path / "fid.csv"
    result = run(db_path, "export", "--project", "fid", "--format", "csv", "--out", str(out))
    assert "0 responses" in result.stdout
    rows = {r["respondent_id"]: r for r in read_rows(out)}
    x = rows[expected_id(secret, "fid", "FK-Enhed-X")]
    y = rows[expected_id(secret, "fid", "FK-Enhed-Y")]
    assert (x["unit"], x["note"], y["unit"], y["note"]) == ("Enhed-X", "note fra X", "Enhed-Y", "note fra Y")
    assert b"FK-Enhed" not in all_bytes(out)


def test_complement_blanks_a_second_unit_when_only_one_is_small(project, db_path, tmp_path):
    """Only C is small in a round x group of A and C: blanking C alone would leave 'the blank rows
    are C' to anyone who knows the units, so A (the next-smallest) is blanked too."""
    out = tmp_path / "r1ac.csv"
    db = project
    # Take B off round 1's answers: make B's responses removed invitations → not in the export.
    with transaction(db):
        rid = rounds.get_round(db, R1)["id"]
        db.execute("DELETE FROM answers WHERE response_id IN (SELECT id FROM responses WHERE round_id = ? AND unit = 'B')", (rid,))
        db.execute("DELETE FROM responses WHERE round_id = ? AND unit = 'B'", (rid,))
    run(db_path, "export", "--project", "priv", "--round", R1, "--format", "csv", "--out", str(out))
    rows = read_rows(out)
    assert len(rows) == 5 and {r["unit"] for r in rows} == {""}      # a1-a4 (A: 4 counted, enough) and c1
    assert not any(r["kommentar"] for r in rows)


def test_web_download_is_pseudonymous_even_when_asked_to_identify(project, client, secret):
    users.create_user(project, "evaluering", "a-long-password-123", "admin", [])
    assert client.post("/login", data={"username": "evaluering", "password": "a-long-password-123"}).status_code == 302
    for fmt in ("csv", "xlsx", "sav"):
        response = client.get(f"/reports/priv/export.{fmt}?layout=responses&identify=1")
        assert response.status_code == 200
        # Every download is a zip: an XLSX file is one, CSV and SAV come zipped with their codebook.
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            blob = b"".join(archive.read(n) for n in archive.namelist())
        assert_no_identities(blob)
        assert expected_id(secret, "priv", "PK-a1-7Q").encode() in blob
        for key in SMALL:
            assert text_of(key, 1).encode() not in blob
        assert text_of("PK-a1-7Q", 1).encode() in blob
    wide = client.get("/reports/priv/export.csv?layout=wide")
    with zipfile.ZipFile(io.BytesIO(wide.data)) as archive:
        data = next(n for n in archive.namelist() if not n.endswith(".codebook.csv"))
        rows = list(csv.DictReader(io.StringIO(archive.read(data).decode("utf-8-sig"))))
    assert len(rows) == len(PEOPLE) and rows[0].keys() >= {"respondent_id", "r1_unit"}


def test_rows_without_a_unit_are_a_cell_too(project, db_path, tmp_path, secret):
    """A list without units: the round x group itself is the cell, and 2 answers are too few."""
    db = project
    with transaction(db):
        rounds.ensure_project(db, "solo", "Uden enheder", min_n=MIN_N)
    rid = rounds.create_round(db, "Solo 1", {"medarbejdere": "p-staff"}, "solo", "2015-01-05")
    with transaction(db):
        for key in ("SK-1", "SK-2"):
            respondents.add_invitation(db, rounds.get_round(db, rid), {"key": key, "group": "medarbejdere",
                                                                      "attributes": {"afdeling": f"afd-{key}"}}, secret)
    rounds.open_round(db, rid)
    import_responses(db, rid, data=_csv([{"key": k, "status": "complete", "q1": 3, "q2": 3, "kommentar": f"tekst {k}"}
                                         for k in ("SK-1", "SK-2")], ["key", "status", "q1", "q2", "kommentar"]),
                     filename="solo.csv")
    out = tmp_path / "solo.csv"
    run(db_path, "export", "--project", "solo", "--format", "csv", "--out", str(out))
    rows = read_rows(out)
    assert len(rows) == 2 and all(r["q1"] == "3" and r["kommentar"] == "" and r["afdeling"] == "" for r in rows)
    assert b"tekst SK" not in out.read_bytes() and b"afd-SK" not in out.read_bytes()
