"""The unit against the mean of the other units: shown only when at least MIN_OTHER_UNITS (3)
other units have a score, suppressed with a note otherwise (in pages, CLI rows and the PDF alike)."""
from __future__ import annotations

import pytest

from analysis import fidelity as fa
from surveyapp import fidelity


def test_minimum_is_three_other_units():
    assert fa.MIN_OTHER_UNITS == 3


def test_comparison_shown_with_three_others_and_suppressed_with_two():
    shown = fa.comparison("A", {"A": 4.0, "B": 3.0, "C": 2.0, "D": 4.6})
    assert shown["suppressed"] is False and shown["others_n"] == 3
    assert shown["others_mean"] == pytest.approx((3.0 + 2.0 + 4.6) / 3)
    assert shown["diff"] == pytest.approx(4.0 - (3.0 + 2.0 + 4.6) / 3)
    # A unit without a score does not count as an "other unit" that answered.
    hidden = fa.comparison("A", {"A": 4.0, "B": 3.0, "C": 2.0, "D": None})
    assert hidden == {"others_mean": None, "others_n": 2, "diff": None, "suppressed": True,
                      "note": "Sammenligning vises ikke: kun 2 andre enheder har svaret (mindst 3 kræves)."}
    assert fa.comparison("A", {"A": 4.0})["suppressed"] is True


def test_profile_suppresses_per_index_and_round(db, answered):
    p = fidelity.profile(db, "fid", "Nord")
    ia = {r["round"]: r for r in next(i for i in p["indices"] if i["id"] == "ia")["rounds"]}
    ib = {r["round"]: r for r in next(i for i in p["indices"] if i["id"] == "ib")["rounds"]}
    # R1, index A: all four units answered, but only Syd (2.5) and Øst (3.0) have an A score -> suppressed.
    assert ia["R1"]["comparison"]["suppressed"] is True and ia["R1"]["comparison"]["others_n"] == 2
    assert ia["R1"]["comparison"]["others_mean"] is None
    # R1, index B: Syd 2.5, Øst 4.5, Vest 1.5 -> shown: mean of the other units' means.
    assert ib["R1"]["comparison"]["suppressed"] is False
    assert ib["R1"]["comparison"]["others_mean"] == pytest.approx((2.5 + 4.5 + 1.5) / 3)
    # R2: only Nord and Syd answered -> suppressed everywhere; R3: Nord did not answer -> no comparison.
    assert ia["R2"]["comparison"]["suppressed"] and ib["R2"]["comparison"]["suppressed"]
    assert ia["R3"]["comparison"] is None
    assert any(note.startswith("R2: Sammenligning vises ikke") for note in p["comparison_notes"])
    rows = fidelity.profile_rows(p)
    r2 = next(r for r in rows if r["index"] == "ia" and r["round"] == "R2")
    assert r2["others_mean"] is None and r2["comparison_suppressed"] is True


def test_profile_page_prints_the_minimum_and_hides_the_mean(client, app, db, answered):
    from surveyapp import users

    users.create_user(db, "admin", "admin-password-1", "admin")
    client.post("/login", data={"username": "admin", "password": "admin-password-1"})
    page = client.get("/fidelity/fid/units/Syd").get_data(as_text=True)
    # Syd's latest answered round is R2, where only Nord answered besides it: no "others" number at all.
    assert "mindst 3 andre enheder" in page
    assert "R2: Sammenligning vises ikke: kun 1 anden enhed har svaret" in page
    assert "vises ikke" in page.split('id="profile-table"')[1].split("</table>")[0]
