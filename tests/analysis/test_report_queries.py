"""The query layer on a real SQLite file: every expected number is computed here from the answer
table in report_testdata.py (by hand or with numpy/scipy), never taken from the code under test."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from surveyapp import report_data as rd
from surveyapp import respondents, rounds
from surveyapp.db import transaction
from surveyapp.errors import SurveyError
from surveyapp.responses import import_responses

from report_testdata import LEADS, ROUND1, ROUND2, STAFF, _csv


def staff_answers(round_no: int, item_index: int, unit: str | None = None) -> list:
    out = []
    for key, (u, a, b) in STAFF.items():
        values = a if round_no == 1 else b
        if values is None or (unit and u != unit):
            continue
        if values[item_index] is not None:
            out.append(values[item_index])
    return out


def row_for(rows, **where):
    found = [r for r in rows if all(r.get(k) == v for k, v in where.items())]
    assert len(found) == 1, (where, found)
    return found[0]


def test_item_statistics_per_round_and_group(report_db):
    rows = rd.item_rows(report_db["db"], by=("group",), project="eval")
    for round_no, name in ((1, ROUND1), (2, ROUND2)):
        answers = staff_answers(round_no, 0)
        row = row_for(rows, round=name, group="medarbejdere", item="q1")
        substantive = np.array([a for a in answers if a != 9], dtype=float)
        assert row["n"] == len(answers)                      # "Ved ikke" counts in N
        assert row["n_valid"] == len(substantive)
        assert row["mean"] == pytest.approx(substantive.mean(), abs=1e-4)
        assert row["sd"] == pytest.approx(substantive.std(ddof=1), abs=1e-4)
        half = stats.t.ppf(0.975, len(substantive) - 1) * substantive.std(ddof=1) / np.sqrt(len(substantive))
        assert row["ci_low"] == pytest.approx(substantive.mean() - half, abs=1e-4)
        assert row["shares"]["9"] == pytest.approx(100 * answers.count(9) / len(answers), abs=0.01)
        assert row["top2"] == pytest.approx(100 * sum(a in (3, 4) for a in answers) / len(answers), abs=0.01)
    # The row without a group is the total (only staff answer q1, so it equals the staff row).
    total = row_for(rows, round=ROUND1, group=None, item="q1")
    assert total["n"] == 11 and total["suppressed"] is False


def test_reverse_keyed_item_mean_is_reversed(report_db):
    rows = rd.item_rows(report_db["db"], by=("group",), project="eval", items=["q2"])
    answers = [a for a in staff_answers(1, 1) if a != 9]
    row = row_for(rows, round=ROUND1, group="medarbejdere", item="q2")
    assert row["mean"] == pytest.approx(np.mean([5 - a for a in answers]), abs=1e-4)
    assert row["n"] == 10      # s08 left q2 unanswered: not in N at all


def test_unit_breakdown_suppresses_small_cells_and_keeps_n(report_db):
    rows = rd.item_rows(report_db["db"], by=("group", "unit"), project="eval", items=["q1"])
    a = row_for(rows, round=ROUND1, group="medarbejdere", unit="A", item="q1")
    b = row_for(rows, round=ROUND1, group="medarbejdere", unit="B", item="q1")
    c = row_for(rows, round=ROUND1, group="medarbejdere", unit="C", item="q1")
    assert a["suppressed"] is False and a["mean"] == pytest.approx(np.mean([4, 3, 3, 2, 4]), abs=1e-4)
    for small, n in ((b, 3), (c, 2)):
        assert small["suppressed"] is True and small["n"] == n
        assert small["mean"] is None and small["shares"] is None and small["note"] == "for få svar"


def test_unit_spread_per_round_and_group(report_db):
    db = report_db["db"]
    spreads = rd.unit_spreads(db, rd.Scope(db, project="eval"), "q1", ["medarbejdere", "ledere"])
    # q1 is asked of staff only. Units B and C have fewer than 5 answers in both rounds (left
    # out); unit A's top-2 share is its 3s and 4s out of everyone who answered, "Ved ikke" included.
    assert [(s["round"], s["group"]) for s in spreads] == [(ROUND1, "medarbejdere"), (ROUND2, "medarbejdere")]
    for s, round_no in zip(spreads, (1, 2)):
        unit_a = staff_answers(round_no, 0, "A")
        top2 = 100 * sum(a in (3, 4) for a in unit_a) / len(unit_a)
        assert s["n_units"] == 1 and s["min"] == pytest.approx(top2) and s["max"] == pytest.approx(top2)
        # The same as asking for the one round and group.
        assert {k: v for k, v in s.items() if k not in ("round", "group")} == \
            rd.unit_spread(db, s["round"], "q1", "medarbejdere", project="eval")


def test_complementary_suppression_on_a_respondent_attribute(report_db):
    # Round 1: senior = ja for s01-s04 (4 answers < 5), nej for the other 7; the total (11) is shown,
    # so 'nej' must be hidden as well or 'ja' = total - nej.
    rows = rd.item_rows(report_db["db"], ["Runde 1"], by=("senior",), project="eval", items=["q1"])
    ja, nej, total = (row_for(rows, senior=v, item="q1") for v in ("ja", "nej", None))
    assert ja["suppressed"] and nej["suppressed"] and not total["suppressed"]
    assert total["n"] == ja["n"] + nej["n"] == 11


def test_not_personal_questionnaire_is_never_suppressed(db, tmp_path, minimal_yaml, secret):
    from surveyapp import questionnaire_store

    with transaction(db):
        rounds.ensure_project(db, "fid", "Fidelitet", min_n=5)
    questionnaire_store.load(db, minimal_yaml)
    rid = rounds.create_round(db, "Måling 1", {"": "demo-fidelity"}, "fid", "2019-03-01")
    with transaction(db):
        for unit in ("Aarhus", "Odense"):
            respondents.add_invitation(db, rounds.get_round(db, rid), {"key": unit, "unit": unit}, secret)
    rounds.open_round(db, rid)
    import_responses(db, rid, data=_csv([{"key": "Aarhus", "ops_1": 4, "ops_2": 5}, {"key": "Odense", "ops_1": 2, "ops_2": 9}],
                                        ["key", "ops_1", "ops_2"]), filename="fid.csv")
    rows = rd.item_rows(db, by=("unit",), project="fid", items=["ops_1"])
    aarhus = row_for(rows, unit="Aarhus", item="ops_1")
    assert aarhus["suppressed"] is False and aarhus["n"] == 1 and aarhus["shares"]["4"] == 100.0
    indices = rd.index_rows(db, by_unit=True, project="fid")
    total = row_for(indices, unit=None, index="opsporing")
    # Aarhus: (4 + 5) / 2 = 4.5; Odense: 2 ("Ved ikke" left out, not 0); mean of unit means = 3.25.
    assert total["score"] == pytest.approx(3.25) and total["n"] == 2
    assert row_for(indices, unit="Odense", index="opsporing")["score"] == pytest.approx(2.0)


def test_trends_never_join_item_versions(report_db):
    rows = rd.item_rows(report_db["db"], by=("group",), project="eval", items=["q3"])
    assert {(r["round"], r["item_version"]) for r in rows} == {(ROUND1, 1), (ROUND2, 2)}
    changes = rd.item_changes(report_db["db"], project="eval")
    assert not [c for c in changes if c["item"] == "q3"]          # one round per version: nothing to compare
    q1 = [c for c in changes if c["item"] == "q1" and c["group"] == "medarbejdere"]
    assert len(q1) == 1
    r1 = [a for a in staff_answers(1, 0) if a != 9]
    r2 = [a for a in staff_answers(2, 0) if a != 9]
    assert q1[0]["diff_mean"] == pytest.approx(np.mean(r2) - np.mean(r1))
    assert q1[0]["p_mannwhitney"] == pytest.approx(stats.mannwhitneyu(r1, r2, alternative="two-sided").pvalue)


def test_index_mean_of_unit_means(report_db):
    rows = rd.index_rows(report_db["db"], ["Runde 1"], by_unit=True, project="eval")
    per_unit: dict[str, list[float]] = {}
    matrix = []
    for key, (unit, a, _) in STAFF.items():
        q1 = None if a[0] in (9, None) else a[0]
        q2 = None if a[1] in (9, None) else 5 - a[1]          # reverse-keyed
        answered = [v for v in (q1, q2) if v is not None]
        if answered:
            per_unit.setdefault(unit, []).append(sum(answered) / len(answered))
        if q1 is not None and q2 is not None:
            matrix.append([q1, q2])
    unit_means = {u: np.mean(v) for u, v in per_unit.items()}
    total = row_for(rows, index="samlet", unit=None)
    assert total["score"] == pytest.approx(np.mean(list(unit_means.values())), abs=1e-4)
    assert total["n"] == 3
    m = np.array(matrix)
    cov = np.cov(m, rowvar=False)
    assert total["alpha"] == pytest.approx(2 * (1 - np.trace(cov) / cov.sum()), abs=1e-4)
    unit_a = row_for(rows, index="samlet", unit="A")
    assert unit_a["score"] == pytest.approx(unit_means["A"], abs=1e-4) and not unit_a["suppressed"]
    assert row_for(rows, index="samlet", unit="C")["suppressed"] is True
    assert row_for(rows, index="samlet", unit="C")["score"] is None


def test_paired_comparison_and_panel_counts(report_db):
    result = rd.paired_rows(report_db["db"], ROUND1, ROUND2, "eval")
    q1 = row_for(result["items"], item="q1")
    pairs = [(a[0], b[0]) for _, (_, a, b) in STAFF.items() if b is not None and a[0] not in (9, None) and b[0] not in (9, None)]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    assert q1["n_pairs"] == len(pairs) == 7
    assert q1["diff"] == pytest.approx(np.mean(ys) - np.mean(xs), abs=1e-6)
    assert q1["p_ttest"] == pytest.approx(stats.ttest_rel(ys, xs).pvalue, abs=1e-6)
    assert q1["p_wilcoxon"] == pytest.approx(stats.wilcoxon(ys, xs).pvalue, abs=1e-6)
    assert not [r for r in result["items"] if r["item"] == "q3"]     # reworded: not paired across versions
    # Round 1: 11 staff + 6 leads answered; round 2: 9 staff + 5 leads. s99 was invited but never answered.
    assert result["panel"]["only_a"] == 3 and result["panel"]["both"] == 14 and result["panel"]["only_b"] == 0
    assert result["panel"]["people"] == 17
    # No items asked for: the panel counts alone (what `report panel` shows).
    panel_only = rd.paired_rows(report_db["db"], ROUND1, ROUND2, "eval", items=[])
    assert panel_only["items"] == [] and panel_only["panel"] == result["panel"]


def test_construct_comparison_managers_vs_staff(report_db):
    rows = rd.construct_rows(report_db["db"], [ROUND1], "ledere", "medarbejdere", "eval")
    coop = row_for(rows, construct="coop")
    leads = [a for _, (_, a, _) in LEADS.items()]
    staff = [a for a in staff_answers(1, 0) if a != 9]
    assert (coop["item_a"], coop["item_b"]) == ("l1", "q1")
    assert coop["diff_mean"] == pytest.approx(np.mean(staff) - np.mean(leads))


def test_crosstab_between_two_items(report_db):
    result = rd.crosstab_data(report_db["db"], ROUND1, "q1", "q3", "medarbejdere", "eval")
    total = next(line for line in result["table"] if line["row"] is None)
    both = [(a[0], a[2]) for _, (_, a, _) in STAFF.items() if a[0] is not None and a[2] is not None]
    assert total["total"] == len(both) == 11
    # Every cell is below 5 here, so every inner cell is hidden.
    assert all(cell["n"] is None or cell["n"] == 0 for line in result["table"] if line["row"] is not None
               for col, cell in line["cells"].items() if col != "total")


def test_anonymous_round_has_no_person_key(report_db, secret):
    db = report_db["db"]
    rid = rounds.create_round(db, "Runde 3", {"medarbejdere": "t-staff@2", "ledere": "t-lead"}, "eval", "2014-09-01", anonymous=True)
    with transaction(db):
        for key in ("s01", "s02"):
            respondents.add_invitation(db, rounds.get_round(db, rid), {"key": key, "group": "medarbejdere", "unit": "A"}, secret)
    rounds.open_round(db, rid)
    import_responses(db, rid, data=_csv([{"key": "s01", "q1": 4}, {"key": "s02", "q1": 2}], ["key", "q1"]), filename="a.csv")
    data = rd.export_data(db, ["Runde 3"], "eval")
    assert data["anonymous"] and all("key" not in row for row in data["rows"])
    with pytest.raises(SurveyError):
        rd.paired_rows(db, ROUND2, "Runde 3", "eval")
    with pytest.raises(SurveyError):
        rd.export(db, "/tmp/never.csv", "csv", ["Runde 3"], "eval", layout="wide")


def test_responded_only_counts_complete_and_valid_partial(report_db, secret):
    db = report_db["db"]
    rid = rounds.create_round(db, "Runde 4", {"medarbejdere": "t-staff@2", "ledere": "t-lead"}, "eval", "2015-09-01",
                              partial_threshold=0.5)
    with transaction(db):
        for key in ("s01", "s02", "s03"):
            respondents.add_invitation(db, rounds.get_round(db, rid), {"key": key, "group": "medarbejdere", "unit": "A"}, secret)
    rounds.open_round(db, rid)
    # s01 complete; s02 partial with 2 of 4 items (valid at 50 %); s03 partial with 1 of 4 (break-off).
    import_responses(db, rid, data=_csv([{"key": "s01", "status": "complete", "q1": 4},
                                         {"key": "s02", "status": "partial", "q1": 3, "q2": 2},
                                         {"key": "s03", "status": "partial", "q1": 1}], ["key", "status", "q1", "q2"]),
                     filename="p.csv")
    everyone = row_for(rd.item_rows(db, ["Runde 4"], project="eval", items=["q1"]), item="q1")
    responded = row_for(rd.item_rows(db, ["Runde 4"], project="eval", items=["q1"], responded_only=True), item="q1")
    assert everyone["n"] == 3            # per-item N: everyone who answered the item, break-offs included
    assert responded["n"] == 2           # complete + valid partial only


def test_no_pooled_total_across_groups_with_different_wording(report_db, tmp_path, secret):
    from surveyapp import questionnaire_store

    from survey_yaml import GRAD4_SCALES

    db = report_db["db"]
    (tmp_path / "lead2.yaml").write_text(
        "id: t-lead2\ntitle: Ledere 2\n" + GRAD4_SCALES +
        "sections:\n  - id: s1\n    title: Del 1\n    items:\n"
        "      - {id: q1, text: 'Samarbejdet på mit ledelsesområde er godt', scale: grad4}\n", encoding="utf-8")
    questionnaire_store.load(db, tmp_path / "lead2.yaml")
    rid = rounds.create_round(db, "Runde 5", {"medarbejdere": "t-staff@1", "ledere": "t-lead2"}, "eval", "2016-03-01")
    with transaction(db):
        for key, group in (("s01", "medarbejdere"), ("l01", "ledere")):
            respondents.add_invitation(db, rounds.get_round(db, rid), {"key": key, "group": group, "unit": "A"}, secret)
    rounds.open_round(db, rid)
    import_responses(db, rid, data=_csv([{"key": "s01", "q1": 4}, {"key": "l01", "q1": 2}], ["key", "q1"]), filename="x.csv")
    by_group = rd.item_rows(db, ["Runde 5"], by=("group",), project="eval", items=["q1"])
    assert {r["group"] for r in by_group} == {"medarbejdere", "ledere"}       # no pooled total row
    assert rd.item_rows(db, ["Runde 5"], project="eval", items=["q1"]) == []


def checklist_project(db, tmp_path, secret, items_yaml: str, keys, answers_csv: bytes) -> None:
    """Project 'chk' (min_n 5) with one open round 'R' of questionnaire t-check (`items_yaml`: its
    items), everyone in `keys` invited in unit X, and `answers_csv` imported."""
    from surveyapp import questionnaire_store

    (tmp_path / "check.yaml").write_text(
        "id: t-check\ntitle: Tjekliste\nsections:\n  - id: s1\n    title: Del 1\n    items:\n" + items_yaml, encoding="utf-8")
    with transaction(db):
        rounds.ensure_project(db, "chk", "Tjek", min_n=5)
    questionnaire_store.load(db, tmp_path / "check.yaml")
    rid = rounds.create_round(db, "R", {"": "t-check"}, "chk", "2019-03-01")
    with transaction(db):
        for key in keys:
            respondents.add_invitation(db, rounds.get_round(db, rid), {"key": key, "unit": "X"}, secret)
    rounds.open_round(db, rid)
    import_responses(db, rid, data=answers_csv, filename="c.csv")


def test_multiple_choice_shares_are_percent_of_respondents(db, tmp_path, secret):
    chosen = {"a": "1,2", "b": "2", "c": "1,2,3", "d": "2", "e": "1", "f": ""}     # f did not answer
    checklist_project(db, tmp_path, secret,
                      "      - id: tilbud\n        type: multiple\n        text: Hvilke tilbud er startet?\n        options:\n"
                      "          - {code: 1, label: Familiebehandling}\n          - {code: 2, label: Mentor}\n"
                      "          - {code: 3, label: Kontaktperson}\n",
                      chosen, ("key,tilbud\n" + "".join(f'{k},"{v}"\n' for k, v in chosen.items())).encode())
    row = row_for(rd.item_rows(db, project="chk"), item="tilbud")
    answered = [v.split(",") for v in chosen.values() if v]
    assert row["n"] == len(answered) == 5
    for code in ("1", "2", "3"):
        assert row["shares"][code] == pytest.approx(100 * sum(code in a for a in answered) / len(answered), abs=0.01)
    assert row["mean"] is None and not row["suppressed"]


def test_changes_and_group_comparisons_skip_cells_hidden_by_complementary_suppression(report_db, tmp_path, secret):
    from surveyapp import questionnaire_store

    from survey_yaml import GRAD4_SCALES

    db = report_db["db"]
    (tmp_path / "lead3.yaml").write_text(
        "id: t-lead3\ntitle: Ledere 3\n" + GRAD4_SCALES +
        "sections:\n  - id: s1\n    title: Del 1\n    items:\n"
        "      - {id: q1, text: 'Samarbejdet er godt', scale: grad4, construct: coop}\n", encoding="utf-8")
    questionnaire_store.load(db, tmp_path / "lead3.yaml")
    staff = {f"m{n}": 1 + n % 4 for n in range(8)}
    leads = {"R6": {"x1": 4, "x2": 3, "x3": 4}, "R7": {f"x{n}": 2 + n % 3 for n in range(1, 7)}}
    for name, opens in (("R6", "2017-03-01"), ("R7", "2017-09-01")):
        rid = rounds.create_round(db, name, {"medarbejdere": "t-staff@2", "ledere": "t-lead3"}, "eval", opens)
        with transaction(db):
            for key in staff:
                respondents.add_invitation(db, rounds.get_round(db, rid), {"key": key, "group": "medarbejdere", "unit": "A"}, secret)
            for key in leads[name]:
                respondents.add_invitation(db, rounds.get_round(db, rid), {"key": key, "group": "ledere", "unit": "A"}, secret)
        rounds.open_round(db, rid)
        answers = [{"key": k, "q1": v} for k, v in staff.items()] + [{"key": k, "q1": v} for k, v in leads[name].items()]
        import_responses(db, rid, data=_csv(answers, ["key", "q1"]), filename=f"{name}.csv")
    rows = rd.item_rows(db, ["R6", "R7"], by=("group",), project="eval", items=["q1"])
    # R6: 3 leads < 5 are hidden; with the total (11) shown, the 8 staff would give them away: hidden too.
    assert row_for(rows, round="R6", group="ledere")["suppressed"]
    assert row_for(rows, round="R6", group="medarbejdere")["suppressed"]
    assert not row_for(rows, round="R6", group=None)["suppressed"]
    assert not row_for(rows, round="R7", group="medarbejdere")["suppressed"]
    # Neither the change R6 -> R7 nor the managers-vs-staff comparison may bring the hidden R6 staff mean back.
    changes = [c for c in rd.item_changes(db, ["R6", "R7"], project="eval") if c["item"] == "q1" and c["group"] == "medarbejdere"]
    assert changes == []
    coop = [r for r in rd.construct_rows(db, ["R6"], "ledere", "medarbejdere", "eval") if r["construct"] == "coop"]
    assert coop and all(r["suppressed"] and "mean_b" not in r for r in coop)


def test_checklist_exports_as_one_0_1_variable_per_option(db, tmp_path, secret):
    import pyreadstat

    checklist_project(db, tmp_path, secret,
                      "      - id: tilbud\n        type: multiple\n        text: Hvilke tilbud?\n        options:\n"
                      "          - {code: 1, label: Familiebehandling}\n          - {code: 2, label: Mentor}\n"
                      "      - {id: note, type: text, text: Note}\n",
                      ("a", "b", "c"), b'key,tilbud,note\na,"1,2",x\nb,2,y\nc,,z\n')
    out = tmp_path / "c.sav"
    rd.export(db, out, "sav", project="chk", identify=True)        # the real keys, to look the rows up
    frame, meta = pyreadstat.read_sav(str(out))
    frame = frame.set_index("key")
    assert list(frame.loc[["a", "b"], "tilbud_1"]) == [1, 0] and list(frame.loc[["a", "b"], "tilbud_2"]) == [1, 1]
    assert np.isnan(frame.loc["c", "tilbud_1"])                   # did not answer the checklist
    assert meta.column_names_to_labels["tilbud_2"] == "Hvilke tilbud?: Mentor"
    assert meta.variable_value_labels["tilbud_1"] == {0.0: "Ikke valgt", 1.0: "Valgt"}
