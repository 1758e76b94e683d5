"""Evaluator outputs: each person counted once in the highest set, the inclusion cut-off, the
before/after split, explicit denominators, and paired M1-M2 comparisons on the same people.
Expected numbers are worked by hand from the small tables below (tests of the t-test and
Wilcoxon use scipy directly on the hand-listed pairs)."""
from __future__ import annotations

import datetime as dt

import pytest
from scipy import stats

from analysis import progress
from surveyapp import cases
from surveyapp.schedule import add_months

D = dt.date.fromisoformat
CUTOFF = "2024-06-30"


def person(key, unit, intake, done=(), closed=None, m2_instruments=("who5",), incomplete=()):
    """A person record; windows open 14 days before intake + 0/6/12 months."""
    slots = {}
    for slot, months in (("baseline", 0), ("M1", 6), ("M2", 12)):
        target = add_months(intake, months)
        slots[slot] = {"target": target.isoformat(), "window_start": (target - dt.timedelta(days=14)).isoformat(),
                       "window_end": (target + dt.timedelta(days=30)).isoformat(),
                       "instruments": list(m2_instruments)}
    measurements = [{"slot": s, "questionnaire": "who5", "reference_date": d, "complete": True, "scores": {}} for s, d in done]
    measurements += [{"slot": s, "questionnaire": "who5", "reference_date": d, "complete": False, "scores": {}} for s, d in incomplete]
    return {"person": key, "unit": unit, "case": key, "role": "forael", "intake": intake, "closed_on": closed,
            "slots": slots, "measurements": measurements}


SAMPLE = [
    person("a1", "A", "2023-01-10", [("baseline", "2023-01-12"), ("M1", "2023-07-15"), ("M2", "2024-01-20")]),
    person("a2", "A", "2023-02-01", [("baseline", "2023-02-02"), ("M1", "2023-08-01")]),
    person("a3", "A", "2023-03-01", [("baseline", "2023-03-03")]),
    # M2 after the cut-off: only M1 with the cut-off, both without it.
    person("a4", "A", "2023-04-01", [("baseline", "2023-04-01"), ("M1", "2023-10-01"), ("M2", "2024-08-01")]),
    person("a5", "A", "2024-09-01"),                                    # intake after the cut-off
    person("b1", "B", "2023-05-01", [("M2", "2024-05-05")]),             # M2 without M1
    person("b2", "B", "2023-06-01", incomplete=[("baseline", "2023-06-02")]),  # started, never completed
    person("b3", "B", "2023-07-20", [("baseline", "2023-07-21"), ("M1", "2024-01-25")]),
    person("b4", "B", "2023-01-01", [("baseline", "2023-01-05")], closed="2023-05-01"),  # closed before M1
]

SETS = ("background_only", "m1_only", "m1_and_m2", "m2_without_m1", "none")


def table(result):
    return {(r.get("period", ""), r["unit"]): tuple(r[s] for s in SETS) + (r["n_sample"],) for r in result["rows"]}


def test_each_person_once_in_the_highest_set_with_cutoff():
    result = progress.counts(SAMPLE, cutoff=CUTOFF)
    #                     bg  M1  both M2wo none  N
    assert table(result) == {
        ("", "A"):      (1,  2,  1,   0,   0,   4),   # a5 left out (intake after the cut-off)
        ("", "B"):      (1,  1,  0,   1,   1,   4),
        ("", "I alt"):  (2,  3,  1,   1,   1,   8),
    }
    for row in result["rows"]:
        assert sum(row[s] for s in SETS) == row["n_sample"]   # the sets partition the sample


def test_without_cutoff_later_measurements_and_people_count():
    result = progress.counts(SAMPLE, today="2025-01-01")
    assert table(result)[("", "A")] == (1, 1, 2, 0, 1, 5)
    assert "Ingen skæringsdato" in result["caption"]


def test_cutoff_is_inclusive():
    # a1's M2 on 2024-01-20: a cut-off that day counts it, the day before does not.
    assert progress.classify(progress.slots_done(SAMPLE[0], "2024-01-20")) == "m1_and_m2"
    assert progress.classify(progress.slots_done(SAMPLE[0], "2024-01-19")) == "m1_only"
    assert progress.included(SAMPLE[4], "2024-09-01") and not progress.included(SAMPLE[4], "2024-08-31")


def test_split_before_and_from_the_date():
    result = progress.counts(SAMPLE, cutoff=CUTOFF, split="2023-04-01")
    rows = table(result)
    # Before 1.4.2023: a1 (both), a2 (M1), a3 (bg), b4 (bg). From 1.4.2023 (a4 on the day itself).
    assert rows[("før 1.4.2023", "A")] == (1, 1, 1, 0, 0, 3)
    assert rows[("før 1.4.2023", "B")] == (1, 0, 0, 0, 0, 1)
    assert rows[("før 1.4.2023", "I alt")] == (2, 1, 1, 0, 0, 4)
    assert rows[("fra og med 1.4.2023", "A")] == (0, 1, 0, 0, 0, 1)
    assert rows[("fra og med 1.4.2023", "B")] == (0, 1, 0, 1, 1, 3)
    assert "Opdelt efter indskrivningsdato: før 1.4.2023 og fra og med 1.4.2023" in result["caption"]


def test_denominators_sample_versus_asked():
    sample = progress.counts(SAMPLE, cutoff=CUTOFF, denominator="sample")
    asked = progress.counts(SAMPLE, cutoff=CUTOFF, denominator="asked")
    total_s, total_a = sample["rows"][-1], asked["rows"][-1]
    # Asked by the cut-off: baseline 8; M1 7 (b4 closed before its M1 window opened);
    # M2 6 (b3's M2 window opens 6.7.2024, b4 closed).
    assert (total_a["n_asked_baseline"], total_a["n_asked_M1"], total_a["n_asked_M2"]) == (8, 7, 6)
    assert total_s["m1_and_m2_share"] == pytest.approx(100 * 1 / 8)
    assert total_a["m1_and_m2_share"] == pytest.approx(100 * 1 / 6)
    assert total_a["m1_only_share"] == pytest.approx(100 * 3 / 7)
    assert total_a["background_only_share"] == pytest.approx(100 * 2 / 8)
    assert "af alle i stikprøven (N)" in sample["caption"]
    assert "af dem, der blev bedt om målingen" in asked["caption"]
    assert "Skæringsdato 30.6.2024" in sample["caption"]
    with pytest.raises(ValueError):
        progress.counts(SAMPLE, denominator="everyone")


# ---------------------------------------------------------------- paired comparisons

PAIRS = [("p1", 40, 52), ("p2", 60, 64), ("p3", 28, 44), ("p4", 72, 68), ("p5", 50, 50), ("p6", 36, 56)]


def paired_sample():
    people = []
    for key, m1, m2 in PAIRS:
        p = person(key, "A" if key < "p4" else "B", "2023-01-10")
        p["measurements"] = [
            {"slot": "M1", "questionnaire": "who5", "reference_date": "2023-07-12", "complete": True, "scores": {"who5": m1}},
            {"slot": "M2", "questionnaire": "who5", "reference_date": "2024-01-15", "complete": True, "scores": {"who5": m2}}]
        people.append(p)
    # Turned 18 between M1 and M2: youth index at M1, WHO-5 at M2 - not a WHO-5 pair.
    switched = person("q1", "A", "2023-01-10")
    switched["measurements"] = [
        {"slot": "M1", "questionnaire": "trivsel-unge", "reference_date": "2023-07-12", "complete": True, "scores": {"trivsel": 3.2}},
        {"slot": "M2", "questionnaire": "who5", "reference_date": "2024-01-15", "complete": True, "scores": {"who5": 80}}]
    # M2 after the cut-off: not a pair when the cut-off is applied.
    late = person("q2", "B", "2023-01-10")
    late["measurements"] = [
        {"slot": "M1", "questionnaire": "who5", "reference_date": "2023-07-12", "complete": True, "scores": {"who5": 20}},
        {"slot": "M2", "questionnaire": "who5", "reference_date": "2024-07-15", "complete": True, "scores": {"who5": 90}}]
    # Routed to WHO-5 at M2 but closed before its window opened: in the sample, not asked.
    people += [switched, late, person("q3", "B", "2023-01-10", closed="2023-09-01")]
    return people


def test_paired_on_the_same_people_only():
    result = progress.paired(paired_sample(), "who5", "who5", cutoff=CUTOFF, min_n=5)
    total = result["rows"][-1]
    a = [m1 for _, m1, _ in PAIRS]
    b = [m2 for _, _, m2 in PAIRS]
    assert total["n_pairs"] == 6
    assert total["mean_a"] == pytest.approx(286 / 6)          # 40+60+28+72+50+36
    assert total["mean_b"] == pytest.approx(334 / 6)          # 52+64+44+68+50+56
    assert total["mean_diff"] == pytest.approx(8.0)           # diffs 12, 4, 16, -4, 0, 20
    t = stats.ttest_rel(b, a)
    w = stats.wilcoxon(b, a)
    assert total["t"] == pytest.approx(t.statistic) and total["p_t"] == pytest.approx(t.pvalue)
    assert total["p_wilcoxon"] == pytest.approx(w.pvalue) and total["wilcoxon_w"] == pytest.approx(w.statistic)
    assert total["sd_diff"] == pytest.approx(stats.tstd([12, 4, 16, -4, 0, 20]))
    # Denominators: everyone routed to WHO-5 at M2 (9 people) vs those asked for M2 (8: q3 closed).
    assert total["n_sample"] == 9 and total["n_asked"] == 8 and total["denominator"] == 9
    assert "n par = 6 af 9 (alle i stikprøven)" in result["caption"]
    asked = progress.paired(paired_sample(), "who5", "who5", cutoff=CUTOFF, denominator="asked")
    assert asked["rows"][-1]["denominator"] == 8
    assert asked["rows"][-1]["pair_share"] == pytest.approx(100 * 6 / 8)
    assert "n par = 6 af 8 (dem, der blev bedt om målingen" in asked["caption"]
    assert sorted(p["person"] for p in result["pairs"]) == ["p1", "p2", "p3", "p4", "p5", "p6"]


def test_paired_with_no_change_at_all():
    # Everyone has the same score at M1 and M2: nothing to test against, so both p values are
    # 1.0 (as in analysis.paired.paired_comparison) and there is no t or W statistic.
    people = paired_sample()[:6]
    for p in people:
        p["measurements"][1]["scores"] = dict(p["measurements"][0]["scores"])
    total = progress.paired(people, "who5", "who5", cutoff=CUTOFF, min_n=5)["rows"][-1]
    assert (total["n_pairs"], total["mean_diff"], total["sd_diff"]) == (6, 0, 0)
    assert (total["p_t"], total["p_wilcoxon"], total["t"], total["wilcoxon_w"]) == (1.0, 1.0, None, None)


def test_paired_without_cutoff_takes_the_late_pair():
    result = progress.paired(paired_sample(), "who5", "who5", today="2025-01-01")
    assert result["rows"][-1]["n_pairs"] == 7


def test_small_cells_are_suppressed_but_n_shown():
    result = progress.paired(paired_sample(), "who5", "who5", cutoff=CUTOFF, min_n=5, by_unit=True)
    rows = {r["unit"]: r for r in result["rows"]}
    # Unit A has p1-p3 (3 pairs), B p4-p6 (3 pairs): both under 5, the total (6) is shown.
    assert rows["A"]["n_pairs"] == 3 and rows["A"]["suppressed"] and rows["A"]["mean_a"] is None
    assert rows["A"]["note"] == "for få svar"
    assert not rows["I alt"]["suppressed"]
    assert progress.paired(paired_sample(), "who5", "who5", cutoff=CUTOFF, min_n=7)["pairs"] == []


def test_paired_figure_and_csv(output_dir):
    result = progress.paired(paired_sample(), "who5", "who5", cutoff=CUTOFF)
    png, csv_path = progress.paired_figure(result, output_dir / "cases-paired-who5.png", "WHO-5 (0-100)",
                                           [{"value": 50, "label": "Risiko for depression"}])
    assert png.stat().st_size > 5000
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "pair,M1,M2" and len(lines) == 7
    assert sorted(tuple(map(int, line.split(",")[1:])) for line in lines[1:]) == sorted((m1, m2) for _, m1, m2 in PAIRS)
    assert not any(key in csv_path.read_text() for key, _, _ in PAIRS)   # no person keys in the export


# ---------------------------------------------------------------- through the database


def test_counts_from_registered_measurements(loaded, secret):
    db = loaded
    cases.open_case(db, "fp", "F1", "Aarhus", "2023-01-10")
    cases.add_member(db, "F1", "F1-1", "forael", "1980-03-03")
    cases.add_member(db, "F1", "F1-2", "forael", "1982-04-04")
    cases.open_case(db, "fp", "F2", "Odense", "2023-02-01")
    cases.add_member(db, "F2", "F2-1", "forael", "1979-05-05")
    w = {f"who5_{i}": "3" for i in range(1, 6)}
    for slot, date in (("baseline", "2023-01-11"), ("M1", "2023-07-12"), ("M2", "2024-01-12")):
        cases.register_measurement(db, secret, "F1-1", slot, "who5", w, "in_person", date, "anna")
    cases.register_measurement(db, secret, "F1-2", "baseline", "who5", w, "phone", "2023-01-20", "anna")
    cases.register_measurement(db, secret, "F2-1", "M1", "who5", w, "phone", "2023-08-01", "bo")
    result = cases.count_table(db, "fp", cutoff="2023-12-31", today="2024-06-01")
    rows = {r["unit"]: r for r in result["rows"]}
    assert (rows["Aarhus"]["m1_only"], rows["Aarhus"]["background_only"], rows["Aarhus"]["m1_and_m2"]) == (1, 1, 0)
    assert rows["Odense"]["m1_only"] == 1 and rows["I alt"]["n_sample"] == 3
    later = cases.count_table(db, "fp", today="2024-06-01")
    assert {r["unit"]: r["m1_and_m2"] for r in later["rows"]} == {"Aarhus": 1, "Odense": 0, "I alt": 1}


# ---------------------------------------------------------------- an item asked only of some (over 13)

FRITIDSJOB = [{"code": 1, "label": "Ja"}, {"code": 2, "label": "Nej"}]


def youth(key, unit, answer, asked=True, slot="M1", date="2023-07-12"):
    p = person(key, unit, "2023-01-10")
    answers = {"trivsel_humoer": 4}
    if answer is not None:
        answers["fritidsjob"] = answer
    p["measurements"] = [{"slot": slot, "questionnaire": "trivsel-unge", "reference_date": date, "complete": True,
                          "scores": {}, "answers": answers, "hidden": [] if asked else ["fritidsjob"]}]
    return p


def test_item_shares_over_those_asked_or_everyone_measured():
    people = [youth("a1", "A", 1), youth("a2", "A", 1), youth("a3", "A", 2), youth("a4", "A", None),
              youth("a5", "A", None, asked=False), youth("a6", "A", None, asked=False),
              youth("b1", "B", 1), youth("b2", "B", 2), youth("b3", "B", 2), youth("b4", "B", 2), youth("b5", "B", 1),
              youth("c1", "B", 1, slot="M2", date="2024-01-12")]   # another slot: not in the M1 table
    asked = progress.item_table(people, "trivsel-unge", "fritidsjob", FRITIDSJOB, "M1", denominator="asked", min_n=3)
    rows = {r["unit"]: r for r in asked["rows"]}
    assert (rows["A"]["n_sample"], rows["A"]["n_asked"], rows["A"]["n_answered"], rows["A"]["not_answered"]) == (6, 4, 3, 1)
    assert rows["A"]["share_1"] == pytest.approx(100 * 2 / 4)
    assert (rows["I alt"]["n_1"], rows["I alt"]["n_2"], rows["I alt"]["denominator"]) == (4, 4, 9)
    assert rows["I alt"]["share_1"] == pytest.approx(100 * 4 / 9)
    assert "spurgt 9 af 11 målte" in asked["caption"] and "dem, der blev stillet spørgsmålet" in asked["caption"]
    everyone = progress.item_table(people, "trivsel-unge", "fritidsjob", FRITIDSJOB, "M1", denominator="sample", min_n=3)
    assert everyone["rows"][-1]["share_1"] == pytest.approx(100 * 4 / 11)
    assert "alle målte med skemaet" in everyone["caption"]


def test_one_small_cell_is_not_given_away_by_the_total():
    people = ([youth(f"a{i}", "A", 1) for i in range(2)] + [youth(f"b{i}", "B", 2) for i in range(5)]
              + [youth(f"c{i}", "C", 1) for i in range(4)])
    rows = {r["unit"]: r for r in progress.item_table(people, "trivsel-unge", "fritidsjob", FRITIDSJOB, "M1", min_n=3)["rows"]}
    assert rows["A"]["suppressed"] and rows["A"]["n_1"] is None and rows["A"]["n_answered"] == 2
    # Total minus B would reveal A, so the next smallest unit (C, 4 answers) is hidden as well.
    assert rows["C"]["suppressed"] and rows["C"]["n_1"] is None
    assert not rows["B"]["suppressed"] and rows["B"]["n_2"] == 5
    assert not rows["I alt"]["suppressed"] and rows["I alt"]["n_1"] == 6


def test_item_tables_from_the_database_use_the_age_on_the_measurement_date(loaded, secret):
    from cases_helpers import trivsel
    db = loaded
    cases.open_case(db, "fp", "F1", "Aarhus", "2024-01-10")
    cases.add_member(db, "F1", "F1-1", "barn", "2010-06-15")   # 13 on 14.6.2024, 14 from 15.6.2024
    cases.add_member(db, "F1", "F1-2", "barn", "2012-01-01")   # 12
    cases.register_measurement(db, secret, "F1-1", "M1", "trivsel-unge", trivsel(4, 4, 4, 4, 4, fritidsjob=1),
                               "in_person", "2024-06-15", "anna")
    cases.register_measurement(db, secret, "F1-2", "M1", "trivsel-unge", trivsel(3, 3, 3, 3, 3), "in_person", "2024-07-01", "anna")
    (table,) = cases.item_tables(db, "fp", "M1", denominator="sample", today="2024-08-01")
    total = table["rows"][-1]
    assert (table["item"], total["n_sample"], total["n_asked"], total["n_answered"]) == ("fritidsjob", 2, 1, 1)
    assert total["suppressed"] and total["n_1"] is None   # 1 answer < min n 5


def test_paired_by_unit_hides_a_second_cell_when_one_is_small():
    people = paired_sample()
    for p in people:                       # A: p1-p3 (3 pairs), B: p4-p6 (3 pairs) -> move p3 to B
        if p["person"] == "p3":
            p["unit"] = "B"
    rows = {r["unit"]: r for r in progress.paired(people, "who5", "who5", cutoff=CUTOFF, min_n=3, by_unit=True)["rows"]}
    # A has 2 pairs (< 3) and B 4: the total (6 pairs) minus B would give A away, so B is hidden too.
    assert rows["A"]["n_pairs"] == 2 and rows["A"]["suppressed"]
    assert rows["B"]["n_pairs"] == 4 and rows["B"]["suppressed"] and rows["B"]["mean_a"] is None
    assert not rows["I alt"]["suppressed"] and rows["I alt"]["mean_diff"] == pytest.approx(8.0)


def test_a_unit_without_pairs_does_not_protect_a_small_one():
    people = paired_sample()
    units = {"p1": "B", "p2": "B", "p3": "C", "p4": "C", "p5": "C", "p6": "C", "q1": "A", "q2": "A", "q3": "A"}
    for p in people:
        p["unit"] = units[p["person"]]
    rows = {r["unit"]: r for r in progress.paired(people, "who5", "who5", cutoff=CUTOFF, min_n=3, by_unit=True)["rows"]}
    # A: 0 pairs (q1 switched instrument, q2's M2 after the cut-off, q3 closed), B: 2 (< 3), C: 4, total 6.
    # A's n = 0 is shown, so hiding A protects nothing: B's sums = total's (6 x mean) - C's (4 x mean).
    # C must be hidden as well.
    assert [rows[u]["n_pairs"] for u in ("A", "B", "C", "I alt")] == [0, 2, 4, 6]
    assert rows["A"]["suppressed"] and rows["B"]["suppressed"] and rows["B"]["mean_a"] is None
    assert rows["C"]["suppressed"] and rows["C"]["mean_a"] is None and rows["C"]["note"] == "for få svar"
    assert not rows["I alt"]["suppressed"] and rows["I alt"]["mean_diff"] == pytest.approx(8.0)


def test_demo_builds_consistent_families(db, secret):
    import random

    from surveyapp import cases_demo
    today = dt.date(2026, 3, 1)
    summary = cases_demo.build(db, secret, random.Random(7), today=today)
    assert "25 families" in summary[0]
    assert cases.consistency_problems(db) == []
    assert cases_demo.build(db, secret, random.Random(7), today=today)[0].endswith("nothing added")
    states = {r["state"] for r in cases.worklist(db, cases_demo.PROJECT, today=today, states=("overdue", "due", "done"))}
    assert states == {"overdue", "due", "done"}
    units = {r["unit"] for r in cases.count_table(db, cases_demo.PROJECT, today=today)["rows"]}
    assert units == {"Esbjerg", "Holbæk", "Næstved", "I alt"}
    ages = [cases.age_on(r["birth_date"], today) for r in db.query("SELECT birth_date FROM case_members")]
    assert min(ages) < 14 and max(ages) >= 18   # children on both sides of the routing ages


# ---------------------------------------------------------------- properties over random samples

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

RANK = {"none": 0, "background_only": 1, "m2_without_m1": 1, "m1_only": 2, "m1_and_m2": 3}


@st.composite
def samples(draw):
    people = []
    for n in range(draw(st.integers(0, 12))):
        intake = dt.date(2023, 1, 1) + dt.timedelta(days=draw(st.integers(0, 500)))
        done = []
        for slot, months in (("baseline", 0), ("M1", 6), ("M2", 12)):
            if draw(st.booleans()):
                done.append((slot, (add_months(intake, months) + dt.timedelta(days=draw(st.integers(-14, 60)))).isoformat()))
        people.append(person(f"x{n}", draw(st.sampled_from("ABC")), intake.isoformat(), done))
    return people


@settings(max_examples=60, deadline=None)
@given(samples(), st.integers(0, 900), st.integers(1, 300))
def test_sets_partition_the_sample_and_a_later_cutoff_never_lowers_anyone(people, offset, later):
    cutoff = dt.date(2023, 1, 1) + dt.timedelta(days=offset)
    result = progress.counts(people, cutoff=cutoff.isoformat())
    for row in result["rows"]:
        assert sum(row[s] for s in SETS) == row["n_sample"]
    total = sum(D(p["intake"]) <= cutoff for p in people)   # intake on the cut-off day is in the sample
    assert (result["rows"][-1]["n_sample"] if result["rows"] else 0) == total
    for p in people:
        if progress.included(p, cutoff):
            before = progress.classify(progress.slots_done(p, cutoff))
            after = progress.classify(progress.slots_done(p, cutoff + dt.timedelta(days=later)))
            assert RANK[after] >= RANK[before]
