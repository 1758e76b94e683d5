"""The console pages, downloads, figures, CLI and demo of fidelity monitoring, checked against the
hand-worked R1 numbers in test_fidelity_indices.py."""
from __future__ import annotations

import csv
import io
import json
import random
import re

import pytest
from click.testing import CliRunner

from surveyapp import fidelity, fidelity_demo, users
from surveyapp.cli import main


@pytest.fixture
def admin(client, db):
    users.create_user(db, "admin", "admin-password-1", "admin")
    users.create_user(db, "lead", "lead-password-1", "unit_lead", ["Nord"])
    client.post("/login", data={"username": "admin", "password": "admin-password-1"})
    return client


def _csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("# ")))))


def test_overview_page_colours_cells_and_prints_rules(admin, answered):
    page = admin.get("/fidelity/fid/overview?round=R1").get_data(as_text=True)
    matrix = page.split('id="overview-matrix"')[1].split("</table>")[0]
    nord = matrix.split(">Nord</a>")[1].split("</tr>")[0]
    # Nord: A = 4,0 green; B = none (only one of two items) -> a grey dash.
    assert re.search(r'class="num light-green">4,0<span class="light-word"> grøn', nord)
    assert 'class="num light-none">–' in nord
    syd = matrix.split(">Syd</a>")[1].split("</tr>")[0]
    assert 'light-red">2,5' in syd and 'light-yellow">2,5' in syd
    assert "3,2" in matrix.split("<tfoot>")[1]  # mean of unit means 3.1667
    assert "grøn ≥ 4,0, gul ≥ 3,0, rød under 3,0" in page and "mindst 3 andre enheder" in page


def test_overview_csv_has_the_same_numbers(admin, answered):
    response = admin.get("/fidelity/fid/overview.csv?round=R1")
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("# Kilde: Fidelitet (test) (fid-test).")
    rows = {(r["unit"], r["index"]): r for r in _csv_rows(text)}
    assert float(rows[("Øst", "ia")]["score"]) == pytest.approx(3.0) and rows[("Øst", "ia")]["light"] == "yellow"
    assert rows[("Vest", "ia")]["score"] == "" and rows[("Vest", "ia")]["answered_items"] == "1"
    assert float(rows[("", "ia")]["score"]) == pytest.approx((4.0 + 2.5 + 3.0) / 3, abs=1e-4) and rows[("", "ia")]["n_units"] == "3"


def test_trends_figure_and_csv(admin, answered, output_dir):
    png = admin.get("/fidelity/fid/trends.png")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    (output_dir / "fidelity-trends-test.png").write_bytes(png.data)
    svg = admin.get("/fidelity/fid/trends.svg").get_data(as_text=True)
    assert "<svg" in svg and "Indeks A" in svg
    assert "Fidelitet (test) (fid-test). Enheder med indeks pr. runde" in svg  # the caption names its source
    rows = _csv_rows(admin.get("/fidelity/fid/trends.csv").get_data(as_text=True))
    nord_a = [r["score"] for r in rows if r["unit"] == "Nord" and r["index"] == "ia"]
    assert [float(x) if x else None for x in nord_a] == [4.0, 3.5, None]


def test_profile_page_and_one_page_pdf(admin, answered):
    page = admin.get("/fidelity/fid/units/Nord").get_data(as_text=True)
    assert "@media print" not in page  # print rules live in the stylesheet, not inline
    assert "fidelity.css" in page
    table = page.split('id="profile-table"')[1].split("</table>")[0]
    assert 'light-green">4,0' in table and 'light-yellow">3,5' in table and "-0,5" in table
    assert 'class="target">mål 3,5' in table  # the R2 target of index A, from the YAML
    assert "Beskrevet, ikke anvendt" in page and "Familiebehandling, Mentorstøtte, Andet" in page
    lowest = page.split('id="lowest-items"')[1].split("</table>")[0]
    assert lowest.index("Udsagn A4") < lowest.index("Udsagn A1")
    pdf = admin.get("/fidelity/fid/units/Nord.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf.data)) == 1


def test_unit_lead_sees_only_own_unit(client, db, answered):
    users.create_user(db, "lead", "lead-password-1", "unit_lead", ["Nord"])
    client.post("/login", data={"username": "lead", "password": "lead-password-1"})
    assert client.get("/fidelity/fid/units/Nord").status_code == 200
    assert client.get("/fidelity/fid/units/Syd").status_code == 403
    assert client.get("/fidelity/fid/units/Syd.pdf").status_code == 403
    matrix = client.get("/fidelity/fid/overview?round=R1").get_data(as_text=True).split('id="overview-matrix"')[1]
    assert ">Nord</a>" in matrix and ">Syd</a>" not in matrix


def test_status_page_updates_and_override_from_the_console(admin, db, answered):
    activity = fidelity.add_activity(db, "fid", "A1", "Kerneteam", owner="PL")
    milestone = fidelity.add_milestone(db, activity, "Faste møder", "count", target=4)
    response = admin.post(f"/fidelity/fid/milestones/{milestone}", data={"round": "R2", "value": "3", "comment": "Tre af fire"})
    assert response.status_code == 302
    response = admin.post(f"/fidelity/fid/milestones/{milestone}/override",
                          data={"round": "R2", "light": "yellow", "reason": ""}, follow_redirects=True)
    assert "Trafiklyset blev ikke ændret" in response.get_data(as_text=True)
    admin.post(f"/fidelity/fid/milestones/{milestone}/override", data={"round": "R2", "light": "yellow", "reason": "Aftalt i december"})
    page = admin.get("/fidelity/fid/status?round=R2").get_data(as_text=True)
    assert "Tre af fire" in page and "Aftalt i december" in page and "Tilsidesat, forslag: Rød" in page
    statuses = page.split(f'id="status-{milestone}"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', statuses) == ["", "ja", "nej", "paa_vej", "na"] and ">På vej</option>" in statuses
    lights = page.split(f'id="light-{milestone}"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', lights) == ["auto", "green", "yellow", "red", "none"]
    assert 'value="yellow" selected' in lights
    assert admin.get("/fidelity/fid/status.xlsx?round=R2").data[:2] == b"PK"
    rows = _csv_rows(admin.get("/fidelity/fid/status.csv?round=R2").get_data(as_text=True))
    assert rows[0]["suggested_light"] == "red" and rows[0]["light"] == "yellow" and rows[0]["override_reason"] == "Aftalt i december"


def test_self_evaluation_matrix(admin, db, secret, fid_project, register_unit):
    from pathlib import Path

    from surveyapp import questionnaire_store, rounds

    questionnaire_store.load(db, Path(__file__).resolve().parents[2] / "questionnaires" / "selvevaluering.yaml")
    se = fidelity.create_unit_round(db, "Selvevaluering", "selvevaluering", "fid", ["Nord", "Syd"], secret)
    rounds.open_round(db, se)
    register_unit("Selvevaluering", "Nord", {"organisering_klar": "4", "organisering_klar_begrundelse": "Klar ansvarsfordeling",
                                             "organisering_ledelse": "9"})
    register_unit("Selvevaluering", "Syd", {"organisering_klar": "2"})
    matrix = fidelity.self_evaluation(db, "fid")
    nord = next(r for r in matrix["rows"] if r["unit"] == "Nord")["cells"]
    assert nord["organisering_klar"] == {"code": 4, "label": "I høj grad", "substantive": True, "reason": "Klar ansvarsfordeling"}
    assert nord["organisering_ledelse"]["label"] == "Ved ikke" and nord["organisering_ledelse"]["substantive"] is False
    assert len(matrix["questions"]) == 10  # the text items are reasons, not questions
    page = admin.get("/fidelity/fid/self-evaluation").get_data(as_text=True)
    assert "Klar ansvarsfordeling" in page and "I mindre grad" in page and "grade-4" in page
    assert 'id="round"' not in page  # one self-evaluation round: no round picker
    fidelity.create_unit_round(db, "Selvevaluering 2", "selvevaluering", "fid", ["Nord", "Syd"], secret)
    page = admin.get("/fidelity/fid/self-evaluation?round=Selvevaluering").get_data(as_text=True)
    picker = page.split('id="round"')[1].split("</select>")[0]
    assert "<option selected>Selvevaluering</option>" in picker and "<option >Selvevaluering 2</option>" in picker
    assert "Klar ansvarsfordeling" in page


def test_cli_overview_profile_and_refusal(db_path, db, answered, tmp_path, monkeypatch):
    runner = CliRunner()
    result = runner.invoke(main, ["--db", str(db_path), "fidelity", "overview", "--project", "fid", "--round", "R1", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    rows = {(r["unit"], r["index"]): r for r in document["rows"]}
    assert rows[("Syd", "ib")]["score"] == 2.5 and rows[("Syd", "ib")]["light"] == "yellow"
    assert rows[(None, "ib")]["score"] == pytest.approx((2.5 + 4.5 + 1.5) / 3, abs=1e-4) and rows[(None, "ib")]["n_units"] == 3
    assert any("Trafiklys" in rule for rule in document["rules"])

    pdf = tmp_path / "nord.pdf"
    result = runner.invoke(main, ["--db", str(db_path), "fidelity", "profile", "Nord", "--project", "fid", "--pdf", str(pdf)])
    assert result.exit_code == 0, result.output
    assert "# Sammenligning med de øvrige enheder vises kun, når mindst 3 andre enheder har svaret." in result.output
    assert pdf.read_bytes().startswith(b"%PDF")

    result = runner.invoke(main, ["--db", str(db_path), "fidelity", "register", "R1", "Nord", "--by", "Ny", "--project", "fid"])
    assert result.exit_code == 1 and "Nord har allerede en besvarelse" in result.output
    result = runner.invoke(main, ["--db", str(db_path), "fidelity", "reopen", "R1", "Nord", "--reason", "Fejl", "--actor", "ops"])
    assert result.exit_code == 0
    result = runner.invoke(main, ["--db", str(db_path), "fidelity", "register", "R1", "Nord", "--by", "Ny", "--project", "fid"])
    assert result.exit_code == 0 and re.search(r"/s/[A-Za-z0-9_-]{40,}$", result.output.strip())


def test_cli_trends_writes_png_svg_and_the_csv_they_draw(db_path, answered, tmp_path):
    out = tmp_path / "figures"
    result = CliRunner().invoke(main, ["--db", str(db_path), "fidelity", "trends", "--project", "fid", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "fidelity-trends.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (out / "fidelity-trends.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "Indeks A" in svg
    rows = _csv_rows((out / "fidelity-trends.csv").read_text(encoding="utf-8"))
    # R1, hand-worked in test_fidelity_indices.py: Syd's index B is 2.5
    assert float(next(r for r in rows if (r["unit"], r["index"], r["round"]) == ("Syd", "ib", "R1"))["score"]) == 2.5


def test_cli_indicator_lifecycle_and_export(db_path, db, fid_project, tmp_path):
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, ["--db", str(db_path), *args])
        assert result.exit_code == 0, result.output
        return result.output

    run("indicators", "add", "M4", "Gennemfører", "--project", "fid", "--measure-unit", "%", "--baseline", "50", "--target", "75")
    run("indicators", "value", "M4", "R1", "48", "--project", "fid")
    run("indicators", "replace", "M4", "R2", "--reason", "Ny definition", "--new-code", "M5", "--new-title", "Opfølgning",
        "--baseline", "40", "--target", "80", "--project", "fid")
    run("activities", "add", "A1", "Kerneteam", "--project", "fid", "--owner", "PL")
    milestone = run("activities", "milestone", "A1", "Nedsat", "--project", "fid", "--due", "R2").strip()
    run("activities", "status", milestone, "R3", "--status", "På vej", "--comment", "Snart")
    document = json.loads(run("activities", "notes", "--project", "fid", "--round", "R3", "--format", "json"))
    rows = {r["code"]: r for r in document["rows"]}
    assert rows["M4"]["state"] == "replaced" and "Ny definition" in rows["M4"]["state_note"]
    assert rows["M5"]["state_note"] == "erstatter M4 Gennemfører"
    assert rows["A1"]["status"] == "På vej" and rows["A1"]["light"] == "yellow"
    out = tmp_path / "status.xlsx"
    run("activities", "export", "--project", "fid", "--round", "R3", "--out", str(out))
    assert out.read_bytes()[:2] == b"PK"


def test_demo_builds_the_familie_project(db, secret):
    summary = fidelity_demo.build(db, secret, random.Random(7))
    assert any("Måling 2" in line and "3 of 4" in line for line in summary)
    fidelity_rounds = fidelity.kind_rounds(db, "familie", "fidelity")
    assert [(r["name"], r["opens"][:7]) for r in fidelity_rounds] == [
        ("Måling 1", "2019-03"), ("Måling 2", "2019-11"), ("Måling 3", "2020-05")]
    assert fidelity.project_units(db, "familie") == ["Aalborg", "Aarhus", "Esbjerg", "Odense"]
    notes = fidelity.status_notes(db, "familie", "Måling 3")
    states = {i["code"]: i["state"] for i in notes["indicators"]}
    assert states["M3"] == "dropped" and states["M4"] == "replaced" and states["M5"] == "active"
    assert any(m["override"] for a in fidelity.status_notes(db, "familie", "Måling 2")["activities"] for m in a["milestones"])
    assert len(fidelity.self_evaluation(db, "familie")["rows"]) == 4
    # Building again changes nothing.
    assert "exists already" in fidelity_demo.build(db, secret, random.Random(7))[0]


def test_console_creates_activities_milestones_indicators_and_replaces(admin, client, db, fid_project):
    assert admin.post("/fidelity/fid/activities", data={"round": "R1", "code": "A9", "title": "Forældrekurser",
                                                        "owner": "Familiehuset", "unit": ""}).status_code == 302
    activity = fidelity.find_activity(db, "fid", "A9")
    admin.post(f"/fidelity/fid/activities/{activity['id']}/milestones",
               data={"round": "R1", "title": "Kurser afholdt", "measure": "count", "target": "4", "due_round": "R2"})
    admin.post("/fidelity/fid/indicators", data={"round": "R1", "code": "M9", "title": "Kontaktperson", "measure_unit": "%",
                                                 "baseline": "30", "target": "70,5", "direction": "higher", "unit": ""})
    indicator = fidelity.find_indicator(db, "fid", "M9")
    assert indicator["target"] == 70.5 and indicator["baseline"] == 30
    admin.post(f"/fidelity/fid/indicators/{indicator['id']}/retire",
               data={"round": "R2", "action": "replace", "code": "M10", "title": "Kontaktperson inden 14 dage",
                     "baseline": "20", "target": "60", "reason": "Skarpere definition"})
    page = admin.get("/fidelity/fid/status?round=R3").get_data(as_text=True)
    assert "Kurser afholdt" in page and "Familiehuset" in page
    assert "Erstattet fra R2: Skarpere definition (erstattet af M10 Kontaktperson inden 14 dage)" in page
    assert "Erstatter M9 Kontaktperson" in page
    admin.post(f"/fidelity/fid/activities/{activity['id']}/drop", data={"round": "R3", "reason": "Overgået til drift"})
    assert "Udgået fra R3: Overgået til drift" in admin.get("/fidelity/fid/status?round=R3").get_data(as_text=True)
    # A unit lead may add for their own unit only, never for the whole project.
    admin.post("/logout")
    client.post("/login", data={"username": "lead", "password": "lead-password-1"})
    assert client.post("/fidelity/fid/activities", data={"code": "A10", "title": "X", "unit": ""}).status_code == 403
    assert client.post("/fidelity/fid/activities", data={"code": "A10", "title": "X", "unit": "Syd"}).status_code == 403
    assert client.post("/fidelity/fid/activities", data={"code": "A10", "title": "X", "unit": "Nord"}).status_code == 302
    assert fidelity.find_activity(db, "fid", "A10", "Nord")["title"] == "X"


def test_console_changes_flash_the_refusal_and_check_the_unit(admin, client, db, fid_project):
    indicator = fidelity.add_indicator(db, "fid", "M1", "Familier", "antal", 0, 40, unit="Syd")
    page = admin.post(f"/fidelity/fid/indicators/{indicator}", data={"round": "R1", "value": "mange"}, follow_redirects=True)
    assert "Værdien blev ikke gemt: &#39;mange&#39; er ikke et tal" in page.get_data(as_text=True)
    assert fidelity.status_notes(db, "fid", "R1")["indicators"][0]["value"] is None
    page = admin.post("/fidelity/fid/activities", data={"round": "R1", "code": "", "title": "Uden kode"}, follow_redirects=True)
    assert "Aktiviteten blev ikke oprettet: an activity needs a code and a title" in page.get_data(as_text=True)
    page = admin.post(f"/fidelity/fid/indicators/{indicator}", data={"round": "R1", "value": "12,5"}, follow_redirects=True)
    assert "Værdien er gemt." in page.get_data(as_text=True)
    assert fidelity.status_notes(db, "fid", "R1")["indicators"][0]["value"] == 12.5
    # A unit lead for Nord may not change Syd's indicator; another project's id is refused too.
    admin.post("/logout")
    client.post("/login", data={"username": "lead", "password": "lead-password-1"})
    assert client.post(f"/fidelity/fid/indicators/{indicator}", data={"round": "R1", "value": "1"}).status_code == 403
    assert client.post(f"/fidelity/other/indicators/{indicator}", data={"round": "R1", "value": "1"}).status_code == 403
    assert fidelity.status_notes(db, "fid", "R1")["indicators"][0]["value"] == 12.5


def test_status_xlsx_keeps_error_and_formula_like_comments_as_text():
    import zipfile

    import openpyxl

    rows = [{"code": "A1", "activity": "Kerneteam", "comment": "#N/A"}, {"code": "A2", "activity": "Netværk", "comment": "=1+1"}]
    data = fidelity.to_xlsx(rows, fidelity.STATUS_COLUMNS, ["#VALUE! er ikke en regel"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert not any('t="e"' in sheet or "<f>" in sheet for sheet in sheets)  # no error value, no formula
    book = openpyxl.load_workbook(io.BytesIO(data))
    column = fidelity.STATUS_COLUMNS.index("comment") + 1
    assert [book.active.cell(r, column).value for r in (2, 3)] == ["#N/A", "'=1+1"]
    assert book["Regler"]["A1"].value == "#VALUE! er ikke en regel"
