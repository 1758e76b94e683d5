"""The evaluator pages through the Flask test client on a real SQLite file."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from surveyapp import users


@pytest.fixture
def logged_in(report_db, client):
    def login(role: str, units=None):
        users.create_user(report_db["db"], f"user_{role}", "a-long-password-123", role, units or [])
        response = client.post("/login", data={"username": f"user_{role}", "password": "a-long-password-123"})
        assert response.status_code == 302
        return client

    return login


def test_report_page_needs_login_and_the_evaluator_role(report_db, client, logged_in):
    anonymous = client.get("/reports/eval")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    logged_in("unit_lead", ["A"])
    assert client.get("/reports/eval").status_code == 403


def test_report_page_shows_table_n_suppression_and_figures(logged_in):
    client = logged_in("evaluator")
    page = client.get("/reports/eval?item=q1&by=group,unit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Samarbejdet er godt" in html
    assert "for få svar" in html                          # units B and C
    # The spread across units: only unit A has 5 or more answers to q1 in either round. Its top-2
    # share (3 or 4, out of everyone who answered): round 1 4, 3, 3, 2, 9, 4 -> 4/6 = 67 %;
    # round 2 4, 4, 3, 3, 2 -> 4/5 = 80 %.
    assert "Runde 1, medarbejdere: andel i høj eller nogen grad 67 procent (kun én enhed med nok svar)" in html
    assert "Runde 2, medarbejdere: andel i høj eller nogen grad 80 procent (kun én enhed med nok svar)" in html
    assert re.search(r'<td class="num">11</td>', html)     # N of the staff total in round 1
    images = re.findall(r'<img src="([^"]+)"', html)
    assert any("trend_q1.png" in src for src in images)
    src = next(s for s in images if "trend_q1.png" in s).replace("&amp;", "&")
    image = client.get(src)
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data[:4] == b"\x89PNG"
    svg = client.get(src.replace(".png", ".svg").replace("?", "?download=1&"))
    assert svg.mimetype == "image/svg+xml" and "attachment" in svg.headers["Content-Disposition"]
    assert "N: Runde 1 (marts 2013): medarbejdere 11" in svg.get_data(as_text=True)
    data = client.get(src.replace(".png", ".csv"))
    assert data.mimetype == "text/csv" and "mean" in data.get_data(as_text=True).splitlines()[0]


def test_report_page_index_table(logged_in):
    client = logged_in("evaluator")
    html = client.get("/reports/eval?by=unit").get_data(as_text=True)
    assert "Samlet indeks" in html and "Cronbachs alfa" in html


def test_downloads_carry_the_codebook(logged_in):
    import openpyxl

    client = logged_in("admin")
    xlsx = client.get("/reports/eval/export.xlsx?layout=responses")
    assert xlsx.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert "codebook" in wb.sheetnames and "rules" in wb.sheetnames
    bundle = client.get("/reports/eval/export.sav?layout=wide")
    names = zipfile.ZipFile(io.BytesIO(bundle.data)).namelist()
    assert any(n.endswith(".sav") for n in names) and any(n.endswith(".codebook.csv") for n in names)
    items = client.get("/reports/eval/export.csv?level=items&by=group,unit")
    archive = zipfile.ZipFile(io.BytesIO(items.data))
    text = archive.read(next(n for n in archive.namelist() if not n.endswith(".codebook.csv"))).decode("utf-8-sig")
    assert "for få svar" in text


def test_unknown_figure_or_project_is_404(logged_in):
    client = logged_in("evaluator")
    assert client.get("/reports/nope").status_code == 404
    assert client.get("/reports/eval/figure/trend_nope.png?item=nope").status_code == 404
    assert client.get("/reports/eval/figure/..%2Fetc.png").status_code == 404


def test_two_rounds_show_the_panel_comparison(logged_in):
    client = logged_in("evaluator")
    html = client.get("/reports/eval?item=q1&round=1&round=2").get_data(as_text=True)
    assert "Panel: de samme personer i begge runder" in html
    assert "begge runder: 14" in html
    index_only = client.get("/reports/eval?index=samlet&round=1").get_data(as_text=True)
    assert "Samlet indeks" in index_only


def test_project_without_answers_renders(logged_in, report_db):
    from surveyapp import rounds
    from surveyapp.db import transaction

    db = report_db["db"]
    with transaction(db):
        rounds.ensure_project(db, "tom", "Tomt projekt", min_n=5)
    client = logged_in("evaluator")
    assert client.get("/reports/tom").status_code == 200
    rounds.create_round(db, "Første", {"": "t-lead"}, "tom", "2020-01-01")
    page = client.get("/reports/tom")
    assert page.status_code == 200 and "Hent data" in page.get_data(as_text=True)
