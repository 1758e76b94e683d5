"""Ids, rounds, numbers and schedule names typed into admin URLs and forms: a number beyond SQLite's
INTEGER range, a digit Python reads but SQLite does not ('²'), a missing round, 'nan', a path.
Each gets a 4xx or a refusal with a message, never a 500, and nothing is stored. Found by a probe
that posted such values into every route of the demo instance as admin."""
from __future__ import annotations

import io
import shutil
import zipfile

import openpyxl
import pyreadstat
import pytest
from hypothesis import given, settings, strategies as st

from analysis.export import document_lines
from surveyapp import create_app
from surveyapp.db import connect, find_by_id_or_name, row_id
from surveyapp.errors import NotFound

HUGE = "9" * 30  # > 2**63 - 1: binding it to SQLite raises OverflowError


@pytest.fixture
def demo(demo_db_file, tmp_path, secret):
    """A copy of the demo database per test, and an admin logged in through /login."""
    path = tmp_path / "demo.db"
    shutil.copy(demo_db_file, path)
    app = create_app({"DATABASE": str(path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": secret})
    client = app.test_client()
    assert client.post("/login", data={"username": "admin", "password": "demo-admin-pass"}).status_code == 302
    db = connect(path)
    yield client, db
    db.conn.close()


def table_counts(db) -> dict:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'audit_log'")]
    return {t: db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}


def test_row_id_takes_only_ascii_digits_in_sqlite_range():
    assert row_id("17") == 17 and row_id(" 17 ") == 17
    assert row_id(str(2**63 - 1)) == 2**63 - 1
    assert row_id(str(2**63)) is None
    assert row_id("²") is None  # str.isdigit() is True, int() raises
    assert row_id("١٢") is None  # Arabic-Indic digits: int() reads them as 12
    assert row_id("-3") is None and row_id("") is None
    assert row_id("1" * 5000) is None  # int() itself refuses more than 4300 digits


@pytest.mark.parametrize("ref", [HUGE, "²", "١"])
def test_a_round_named_by_a_strange_number_is_not_found(demo, ref):
    client, db = demo
    with pytest.raises(NotFound):
        find_by_id_or_name(db, "rounds", "name", ref, None, "round")


@pytest.mark.parametrize("url", [
    f"/console/rounds/{HUGE}", f"/console/rounds/{HUGE}/settings", f"/console/rounds/1/respondents/{HUGE}",
    f"/cases/families/{HUGE}", f"/cases/members/{HUGE}/register/t0",
])
def test_ids_beyond_sqlite_range_in_urls_are_404(demo, url):
    client, _ = demo
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", [
    f"/console/rounds/1/mails/{HUGE}/resolve", f"/fidelity/familie/milestones/{HUGE}", f"/fidelity/familie/indicators/{HUGE}",
    f"/cases/members/{HUGE}/close",
])
def test_posts_to_ids_beyond_sqlite_range_are_404_and_store_nothing(demo, url):
    client, db = demo
    before = table_counts(db)
    assert client.post(url, data={"round": "1", "delivered": "1"}).status_code == 404
    assert table_counts(db) == before


@pytest.mark.parametrize("ref", [HUGE, "²", "1" * 5000])
@pytest.mark.parametrize("page", ["overview", "status", "self-evaluation"])
def test_fidelity_pages_for_a_strange_round_are_404(demo, page, ref):
    client, _ = demo
    assert client.get(f"/fidelity/familie/{page}", query_string={"round": ref}).status_code == 404


def test_audit_page_with_a_huge_round_shows_the_log(demo):
    client, db = demo
    page = client.get("/console/audit", query_string={"round": HUGE})
    assert page.status_code == 200
    newest = db.execute("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert f"<code>{newest}</code>" in page.get_data(as_text=True)  # the whole log, as without ?round=


def _milestone_and_indicator(db):
    milestone = db.execute("SELECT m.id FROM milestones m JOIN activities a ON a.id = m.activity_id "
                           "WHERE a.project_id = 'familie' ORDER BY m.id LIMIT 1").fetchone()[0]
    indicator = db.execute("SELECT id FROM indicators WHERE project_id = 'familie' ORDER BY id LIMIT 1").fetchone()[0]
    round_id = db.execute("SELECT round_id FROM milestone_status WHERE milestone_id = ? LIMIT 1", (milestone,)).fetchone()
    return milestone, indicator, round_id[0] if round_id else db.execute(
        "SELECT id FROM rounds WHERE project_id = 'familie' ORDER BY id LIMIT 1").fetchone()[0]


def _statuses(db) -> list:
    return [tuple(r) for r in db.execute("SELECT * FROM milestone_status ORDER BY milestone_id, round_id")] + \
        [tuple(r) for r in db.execute("SELECT * FROM indicator_values ORDER BY indicator_id, round_id")]


@pytest.mark.parametrize("kind,form,message", [
    ("override", {"light": "red", "reason": "for sent"}, "name the round"),
    ("indicator", {"value": "3"}, "name the round"),
    ("milestone", {"status": "Ja"}, "name the round"),
    ("indicator", {"value": "nan", "round": "ROUND"}, "er ikke et tal"),
    ("indicator", {"value": "1e999", "round": "ROUND"}, "er ikke et tal"),
    ("milestone", {"value": "inf", "round": "ROUND"}, "er ikke et tal"),
    ("milestone", {"status": "Ja", "round": "²"}, "not found"),
])
def test_status_changes_without_a_round_or_with_no_number_are_refused(demo, kind, form, message):
    client, db = demo
    milestone, indicator, round_id = _milestone_and_indicator(db)
    form = {k: (str(round_id) if v == "ROUND" else v) for k, v in form.items()}
    url = {"override": f"/fidelity/familie/milestones/{milestone}/override",
           "milestone": f"/fidelity/familie/milestones/{milestone}",
           "indicator": f"/fidelity/familie/indicators/{indicator}"}[kind]
    before = _statuses(db)
    assert client.post(url, data=form).status_code == 302
    with client.session_transaction() as session:
        flashed = [text for category, text in session.get("_flashes", []) if category == "error"]
    assert len(flashed) == 1 and message in flashed[0]
    assert _statuses(db) == before


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_targets_and_baselines_that_are_no_number_are_refused(demo, value):
    """The console's form refuses them itself; the service (the CLI's path) must too."""
    from surveyapp import fidelity
    from surveyapp.errors import SurveyError

    client, db = demo
    activity = db.execute("SELECT id FROM activities WHERE project_id = 'familie' ORDER BY id LIMIT 1").fetchone()[0]
    before = table_counts(db)
    with pytest.raises(SurveyError, match="is not a number"):
        fidelity.add_milestone(db, activity, "Mål", measure="count", target=float(value))
    with pytest.raises(SurveyError, match="is not a number"):
        fidelity.add_indicator(db, "familie", "NY1", "Ny", baseline=1.0, target=float(value), unit="Aalborg")
    with pytest.raises(SurveyError, match="is not a number"):
        fidelity.add_indicator(db, "familie", "NY2", "Ny", baseline=float(value), target=1.0, unit="Aalborg")
    assert table_counts(db) == before


@pytest.mark.parametrize("schedule", ["../who5", "../../questionnaires/who5", "x" * 10_000, "/etc/passwd", "ukendt-plan"])
def test_opening_a_family_on_a_schedule_that_is_no_schedule_is_refused(demo, schedule):
    client, db = demo
    before = table_counts(db)
    page = client.post("/cases/families?project=familieprogression",
                       data={"key": "F-999", "unit": "Horsens", "opened_on": "2014-03-01", "schedule": schedule})
    assert page.status_code == 400
    assert "schedule" in page.get_data(as_text=True)
    assert table_counts(db) == before


@pytest.mark.parametrize("project", ["familie", "familieprogression", "forebyggelse"])
def test_spss_export_of_every_demo_project_opens(demo, tmp_path, project):
    """The familie export once failed: a rule line of 80 characters with 'ø' is more than SPSS's 80 bytes."""
    client, _ = demo
    page = client.get(f"/reports/{project}/export.sav")
    assert page.status_code == 200
    with zipfile.ZipFile(io.BytesIO(page.data)) as bundle:
        name, = [n for n in bundle.namelist() if n.endswith(".sav")]
        path = tmp_path / name
        path.write_bytes(bundle.read(name))
    frame, meta = pyreadstat.read_sav(str(path))
    assert len(frame) > 0
    assert meta.notes and all(len(line.encode("utf-8")) <= 80 for line in meta.notes)


def test_a_control_character_typed_into_a_comment_does_not_break_the_excel_downloads(demo):
    """A vertical tab (pasted from Word) in a milestone comment and a round name was stored, and
    every .xlsx download that showed it then failed with a 500."""
    client, db = demo
    milestone, _, round_id = _milestone_and_indicator(db)
    assert client.post(f"/fidelity/familie/milestones/{milestone}",
                       data={"round": str(round_id), "status": "Ja", "comment": "linje\x0bto"}).status_code == 302
    assert db.execute("SELECT comment FROM milestone_status WHERE milestone_id = ? AND round_id = ?",
                      (milestone, round_id)).fetchone()[0] == "linje\x0bto"  # stored as typed
    round_ = dict(db.execute("SELECT * FROM rounds WHERE id = ?", (round_id,)).fetchone())
    assert client.post(f"/console/rounds/{round_id}/settings", data={
        "name": "Runde\x0b2020", "opens": round_["opens"] or "", "closes": round_["closes"] or "",
        "partial_threshold": "50"}).status_code == 302

    status = client.get("/fidelity/familie/status.xlsx", query_string={"round": round_id})
    assert status.status_code == 200
    cells = {c for row in openpyxl.load_workbook(io.BytesIO(status.data)).active.iter_rows(values_only=True) for c in row}
    assert "linje\ufffdto" in cells
    data = client.get("/reports/familie/export.xlsx", query_string={"round": round_id})
    assert data.status_code == 200
    rows = openpyxl.load_workbook(io.BytesIO(data.data))["data"].iter_rows(values_only=True)
    assert any("Runde\ufffd2020" in row for row in rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("aøåæØ€x-:𝔘"), min_size=1, max_size=120), min_size=3, max_size=40)
       .map(" ".join))
def test_document_lines_fit_80_bytes_and_keep_every_word(text):
    lines = document_lines(text)
    assert all(len(line.encode("utf-8")) <= 80 for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())
