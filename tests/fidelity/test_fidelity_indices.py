"""Index scores and traffic lights against hand-worked examples, with missing items and "Ved ikke".

Index A = items a1..a4, a4 reverse-keyed (1..5 -> 6 - code), min_share 0.5, green >= 4, yellow >= 3.
Index B = items b1, b2, min_share 1.0 (both needed), green >= 4.5, yellow >= 2.5.

Round R1 by hand:
  Nord: a1=5, a2=Ved ikke, a3=3, a4=2 (-> 4)      A = (5 + 3 + 4) / 3 = 4.0   green (boundary)
        b1=4, b2 unanswered                        B = none (1 of 2 < 100 %)
  Syd:  a1=2, a2=3, a3=Ved ikke, a4=Ved ikke      A = (2 + 3) / 2 = 2.5       red  (2 of 4 = 50 % is enough)
        b1=3, b2=2                                 B = 2.5                     yellow (boundary)
  Øst:  a1=4, a2=4, a3=3, a4=5 (-> 1)             A = (4 + 4 + 3 + 1) / 4 = 3.0  yellow (boundary)
        b1=5, b2=4                                 B = 4.5                     green (boundary)
  Vest: a1..a3 Ved ikke, a4=1 (-> 5)              A = none (1 of 4 < 50 %)
        b1=1, b2=2                                 B = 1.5                     red
  Mean of unit means, A: (4.0 + 2.5 + 3.0) / 3 = 3.1667 over 3 units (pooled would be 34 / 10 = 3.4).
  Mean of unit means, B: (2.5 + 4.5 + 1.5) / 3 = 2.8333 over 3 units.
"""
from __future__ import annotations

import pytest

from analysis import fidelity as fa
from surveyapp import fidelity, rounds

INDEX_A = {"id": "ia", "title": "Indeks A", "items": ["a1", "a2", "a3", "a4"], "min_share": 0.5, "thresholds": (4, 3)}


def test_unit_index_leaves_out_missing_and_applies_min_share():
    # "Ved ikke" arrives as None from the query layer; unanswered items are simply absent.
    assert fa.unit_index({"a1": 5, "a2": None, "a3": 3, "a4": 4}, INDEX_A) == \
        {"score": 4.0, "light": "green", "answered": 3, "n_items": 4}
    two_of_four = fa.unit_index({"a1": 2, "a2": 3}, INDEX_A)
    assert two_of_four["score"] == pytest.approx(2.5) and two_of_four["light"] == "red"
    one_of_four = fa.unit_index({"a1": 5, "a2": None, "a3": None}, INDEX_A)
    assert one_of_four == {"score": None, "light": None, "answered": 1, "n_items": 4}


@pytest.mark.parametrize("score,light", [(4.0, "green"), (3.9999, "yellow"), (3.0, "yellow"), (2.9999, "red"),
                                         (1.0, "red"), (5.0, "green"), (None, None)])
def test_traffic_light_boundaries(score, light):
    values = {} if score is None else {"a1": score}
    assert fa.unit_index(values, INDEX_A | {"min_share": 0.0})["light"] == light


def test_no_thresholds_no_light():
    assert fa.unit_index({"a1": 5}, INDEX_A | {"thresholds": None})["light"] is None


def test_overview_from_stored_answers_matches_hand_worked(db, answered):
    matrix = fidelity.overview(db, "fid", "R1")
    cells = {row["unit"]: row["cells"] for row in matrix["rows"]}
    assert [row["unit"] for row in matrix["rows"]] == ["Nord", "Syd", "Vest", "Øst"]
    expected_a = {"Nord": (4.0, "green"), "Syd": (2.5, "red"), "Øst": (3.0, "yellow"), "Vest": (None, None)}
    expected_b = {"Nord": (None, None), "Syd": (2.5, "yellow"), "Øst": (4.5, "green"), "Vest": (1.5, "red")}
    for unit, (score, light) in expected_a.items():
        assert cells[unit]["ia"]["score"] == (pytest.approx(score) if score is not None else None), unit
        assert cells[unit]["ia"]["light"] == light, unit
    for unit, (score, light) in expected_b.items():
        assert cells[unit]["ib"]["score"] == (pytest.approx(score) if score is not None else None), unit
        assert cells[unit]["ib"]["light"] == light, unit
    assert cells["Nord"]["ia"]["answered"] == 3  # "Ved ikke" is not an answered item
    assert matrix["means"]["ia"]["score"] == pytest.approx((4.0 + 2.5 + 3.0) / 3)
    assert matrix["means"]["ia"]["score"] != pytest.approx(34 / 10)  # not the pooled mean
    assert matrix["means"]["ia"]["n_units"] == 3 and matrix["means"]["ia"]["light"] == "yellow"
    assert matrix["means"]["ib"]["score"] == pytest.approx((2.5 + 4.5 + 1.5) / 3)
    assert matrix["means"]["ib"]["n_units"] == 3 and matrix["means"]["ib"]["light"] == "yellow"
    # The rules in force travel with the numbers.
    assert any("grøn ≥ 4,0, gul ≥ 3,0" in rule for rule in matrix["rules"])
    assert any("Ved ikke" in rule for rule in matrix["rules"])
    assert any(f"mindst {fa.MIN_OTHER_UNITS} andre enheder" in rule for rule in matrix["rules"])


def test_ladder_and_checklist_in_overview(db, answered):
    matrix = fidelity.overview(db, "fid", "R1")
    ladder = matrix["ladders"][0]
    assert ladder["id"] == "stige" and ladder["n"] == 3  # Vest did not answer the ladder
    assert ladder["shares"] == {1: pytest.approx(100 / 3), 2: pytest.approx(100 / 3), 3: pytest.approx(100 / 3), 4: 0.0}
    checklist = matrix["checklists"][0]
    assert checklist["n"] == 2 and checklist["counts"] == {1: 1, 2: 1, 3: 1}


def test_profile_change_target_lowest_and_ladder(db, answered):
    p = fidelity.profile(db, "fid", "Nord")
    ia = next(i for i in p["indices"] if i["id"] == "ia")
    r1, r2, r3 = ia["rounds"]
    # R2: a1..a3 = 4, a4 = 4 reversed -> 2: (4 + 4 + 4 + 2) / 4 = 3.5, yellow, target 3.5 met, change 3.5 - 4.0.
    assert r2["score"] == pytest.approx(3.5) and r2["light"] == "yellow"
    assert r2["target"] == 3.5 and r2["target_met"] is True
    assert r2["change"] == pytest.approx(-0.5) and r2["change_from"] == "R1"
    assert r1["change"] is None and r3["score"] is None and r3["change"] is None
    ib = next(i for i in p["indices"] if i["id"] == "ib")
    assert ib["rounds"][0]["score"] is None and ib["rounds"][1]["score"] == pytest.approx(5.0)
    assert ib["rounds"][1]["change"] is None  # no R1 score to compare with
    # Lowest items of the latest answered round (R2): a4 (scored 2), then a1, a2, a3 (4), then b1 (5).
    assert [row["item"] for row in p["lowest"]] == ["a4", "a1", "a2", "a3", "b1"]
    assert p["lowest"][0]["value"] == 2 and p["lowest"][0]["previous"] == 4 and p["lowest"][0]["change"] == -2
    assert p["latest_round"] == "R2" and p["previous_round"] == "R1"
    ladder = p["ladders"][0]
    assert [(x["round"], x["code"]) for x in ladder["positions"]] == [("R1", 2), ("R2", 3), ("R3", None)]
    assert ladder["positions"][1]["label"] == "Beskrevet, ikke anvendt"
    assert p["checklists"][0]["rounds"][1]["labels"] == ["Familiebehandling", "Mentorstøtte", "Andet"]
    assert p["registrations"]["R1"]["registered_by"] == "Projektleder" and p["registrations"]["R3"] is None


def test_change_skips_a_round_the_unit_did_not_answer(db, answered, register_unit):
    register_unit("R3", "Øst", {"a1": "5", "a2": "5", "a3": "4", "a4": "1", "b1": "5", "b2": "5"})
    ia = next(i for i in fidelity.profile(db, "fid", "Øst")["indices"] if i["id"] == "ia")
    # R3: (5 + 5 + 4 + 5) / 4 = 4.75; Øst had no R2 answer, so the change is from R1 (3.0) and says so.
    assert ia["rounds"][2]["score"] == pytest.approx(4.75)
    assert ia["rounds"][2]["change"] == pytest.approx(1.75) and ia["rounds"][2]["change_from"] == "R1"


def test_lowest_items_ties_keep_questionnaire_order():
    rows = fa.lowest_items({"x": 3, "y": 1, "z": 3, "w": None}, ["x", "y", "z", "w"], {"x": "X"}, n=3)
    assert [(r["item"], r["value"]) for r in rows] == [("y", 1), ("x", 3), ("z", 3)]
    assert rows[1]["text"] == "X" and rows[0]["text"] == "y"


def test_alpha_over_units_with_every_item_answered(db, answered):
    import numpy as np

    means = fidelity.overview(db, "fid", "R1")["means"]
    # Index B: complete cases Syd (3, 2), Øst (5, 4), Vest (1, 2); Nord lacks b2.
    items = np.array([[3, 2], [5, 4], [1, 2]], dtype=float)
    k = items.shape[1]
    expected = k / (k - 1) * (1 - items.var(axis=0, ddof=1).sum() / items.sum(axis=1).var(ddof=1))
    assert means["ib"]["alpha"] == pytest.approx(expected) == pytest.approx(6 / 7)
    # Index A: only Øst answered all four items -> too few units for alpha.
    assert means["ia"]["alpha"] is None


def test_only_responses_that_count_enter_the_scores(db, fid_project, register_unit):
    # 8 question items (a1..a4, b1, b2, stige, tilbud), partial threshold 0.5 (the round default): an
    # unsubmitted registration counts with 4 answered items (valid partial), not with 3 (break-off).
    register_unit("R1", "Nord", {"a1": "5", "a2": "4", "a3": "3"}, submit=False)
    register_unit("R1", "Syd", {"a1": "2", "a2": "3", "a3": "9", "b1": "4"}, submit=False)
    register_unit("R1", "Øst", {"a1": "4"})  # submitted: counts however little it answered
    assert rounds.get_round(db, "R1")["partial_threshold"] == 0.5
    cells = {row["unit"]: row["cells"] for row in fidelity.overview(db, "fid", "R1")["rows"]}
    assert set(cells) == {"Syd", "Øst"}
    assert cells["Syd"]["ia"]["score"] == pytest.approx((2 + 3) / 2)  # "Ved ikke" is answered, but not scored
    assert cells["Øst"]["ia"]["score"] is None  # 1 of 4 items is below min_share 0.5
