"""Scored instruments against hand-computed totals: WHO-5 (sum x 4), the parents' stress sum
with eight reverse-keyed positive items, the youth well-being mean with a non-substantive
option, prorating and the minimum number of answered items."""
from __future__ import annotations

import pytest

from analysis.progress import compute_score
from surveyapp import cases
from surveyapp.questionnaire import load_file
from surveyapp.schedule import SCHEDULE_DIR

ROOT = SCHEDULE_DIR.parent
POSITIVE = {1, 2, 5, 6, 7, 8, 17, 18}   # the reverse-keyed items of the stress scale


def spec_of(name):
    q = load_file(ROOT / f"{name}.yaml")
    (spec, items), = cases._score_specs(q)
    return q, spec, items


def test_who5_sum_times_four():
    _, spec, items = spec_of("who5")
    # 5+4+3+2+1 = 15, x 4 = 60
    assert compute_score({"who5_1": 5, "who5_2": 4, "who5_3": 3, "who5_4": 2, "who5_5": 1}, spec, items) == 60
    assert compute_score({f"who5_{i}": 0 for i in range(1, 6)}, spec, items) == 0
    assert compute_score({f"who5_{i}": 5 for i in range(1, 6)}, spec, items) == 100
    # 3+3+2+4+1 = 13 -> 52
    value = compute_score({"who5_1": 3, "who5_2": 3, "who5_3": 2, "who5_4": 4, "who5_5": 1}, spec, items)
    assert value == 52


def test_who5_needs_all_five_items():
    _, spec, items = spec_of("who5")
    assert compute_score({"who5_1": 5, "who5_2": 4, "who5_3": 3, "who5_4": 2}, spec, items) is None


def test_parental_stress_reverses_the_positive_items():
    q, spec, items = spec_of("foraeldrestress")
    assert {int(i[4:]) for i, info in items.items() if info["reverse"]} == POSITIVE
    # Everyone answering "Enig" (4): positive items count 6-4 = 2, the ten others 4.
    assert compute_score({f"pss_{n:02d}": 4 for n in range(1, 19)}, spec, items) == 8 * 2 + 10 * 4  # 56
    # A parent who strongly agrees with every positive item (5 -> 1) and strongly disagrees
    # with every stress item (1): the lowest possible stress, 18.
    calm = {f"pss_{n:02d}": (5 if n in POSITIVE else 1) for n in range(1, 19)}
    assert compute_score(calm, spec, items) == 18
    # Item n answered with code (n % 5) + 1, worked by hand:
    #   codes  1:2 2:3 3:4 4:5 5:1 6:2 7:3 8:4 9:5 10:1 11:2 12:3 13:4 14:5 15:1 16:2 17:3 18:4
    #   positives reversed (6 - code): 1:4 2:3 5:5 6:4 7:3 8:2 17:3 18:2 = 26
    #   the others as given: 3:4 4:5 9:5 10:1 11:2 12:3 13:4 14:5 15:1 16:2 = 32
    answers = {f"pss_{n:02d}": n % 5 + 1 for n in range(1, 19)}
    assert compute_score(answers, spec, items) == 58


def test_parental_stress_prorates_up_to_two_missing_items():
    _, spec, items = spec_of("foraeldrestress")
    answers = {f"pss_{n:02d}": 4 for n in range(1, 19)}
    del answers["pss_01"], answers["pss_03"]
    # 16 answered: 7 positives x 2 + 9 others x 4 = 50, mean 50/16 = 3.125, x 18 = 56.25
    assert compute_score(answers, spec, items) == pytest.approx(56.25)
    del answers["pss_04"]
    assert compute_score(answers, spec, items) is None   # 15 < min_answered 16


def test_youth_mean_leaves_out_prefer_not_to_answer():
    _, spec, items = spec_of("trivsel-unge")
    base = {"trivsel_humoer": 4, "trivsel_hjemme": 3, "trivsel_skole": 9, "trivsel_venner": 5, "trivsel_overskud": 2}
    # 9 = "Vil ikke svare" is not scored: (4+3+5+2)/4 = 3.5 with min_answered 4
    assert compute_score(base, spec, items) == 3.5
    base["trivsel_venner"] = None
    assert compute_score(base, spec, items) is None


def test_offset_multiplier_and_reverse_together():
    spec = {"items": ["a", "b", "c"], "method": "sum", "multiplier": 2, "offset": -1, "min_answered": None}
    info = {"codes": [1, 2, 3, 4, 5, 6], "reverse": False, "reverse_sum": None}
    items = {"a": info, "b": {**info, "reverse": True, "reverse_sum": 7}, "c": info}
    # a: 6-1 = 5; b reversed 7-2 = 5, -1 = 4; c: 1-1 = 0 -> 9 x 2 = 18
    assert compute_score({"a": 6, "b": 2, "c": 1}, spec, items) == 18
    mean_spec = {**spec, "method": "mean", "multiplier": 1}
    assert compute_score({"a": 6, "b": 2, "c": 1}, mean_spec, items) == 3


def test_scores_reach_person_records_through_the_database(loaded, secret):
    db = loaded
    cases.open_case(db, "fp", "F1", "Aarhus", "2024-01-10")
    cases.add_member(db, "F1", "F1-1", "forael", "1980-03-03")
    answers = {"who5_1": "5", "who5_2": "4", "who5_3": "3", "who5_4": "2", "who5_5": "1"}
    cases.register_measurement(db, secret, "F1-1", "baseline", "who5", answers, "phone", "2024-01-12", "anna")
    stress = {f"pss_{n:02d}": "4" for n in range(1, 19)}
    cases.register_measurement(db, secret, "F1-1", "baseline", "foraeldrestress", stress, "in_person", "2024-01-12", "anna")
    (record,) = cases.person_records(db, "fp", today="2024-02-01")
    scores = {m["questionnaire"]: m["scores"] for m in record["measurements"]}
    assert scores == {"who5": {"who5": 60.0}, "foraeldrestress": {"foraeldrestress": 56.0}}
