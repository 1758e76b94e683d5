"""Activities and goal indicators: suggested traffic lights from target vs actual, overrides with a
recorded reason, and the lifecycle (dropped, replaced) kept visible through later rounds."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from analysis import fidelity as fa
from surveyapp import audit, fidelity
from surveyapp.errors import Conflict, SurveyError


@pytest.mark.parametrize("measure,status,value,target,due,light", [
    ("status", "ja", None, None, True, "green"),
    ("status", "paa_vej", None, None, True, "yellow"),
    ("status", "nej", None, None, True, "red"),
    ("status", "na", None, None, True, None),
    ("status", None, None, None, True, None),
    ("status", "nej", None, None, False, None),        # not yet due: no colour whatever the status
    ("count", None, 4, 4, True, "green"),
    ("count", None, 5, 4, True, "green"),
    ("count", None, 3.2, 4, True, "yellow"),           # 80 % of the target exactly
    ("count", None, 3, 4, True, "red"),                # 75 %
    ("percent", None, 72, 90, True, "yellow"),         # 72 / 90 = 80 %
    ("percent", None, 71.9, 90, True, "red"),
    ("percent", None, None, 90, True, None),
])
def test_suggested_milestone_light(measure, status, value, target, due, light):
    assert fa.MILESTONE_YELLOW_SHARE == 0.8
    assert fa.suggest_milestone_light(measure, status, value, target, due)[0] == light


@pytest.mark.parametrize("value,baseline,target,direction,light", [
    (40, 0, 40, "higher", "green"),
    (27, 0, 40, "higher", "yellow"),
    (0, 0, 40, "higher", "red"),
    (-1, 0, 40, "higher", "red"),
    (9, 12, 9, "lower", "green"),
    (8, 12, 9, "lower", "green"),
    (10.5, 12, 9, "lower", "yellow"),
    (12, 12, 9, "lower", "red"),
    (13, 12, 9, "lower", "red"),
    (None, 12, 9, "lower", None),
])
def test_suggested_indicator_light(value, baseline, target, direction, light):
    assert fa.suggest_indicator_light(value, baseline, target, direction)[0] == light


def test_override_needs_a_reason_and_is_shown_beside_the_suggestion(db, fid_project):
    activity = fidelity.add_activity(db, "fid", "A1", "Kerneteam nedsat", owner="Projektleder")
    milestone = fidelity.add_milestone(db, activity, "Faste møder", "count", target=4, due_round="R1")
    fidelity.set_milestone_status(db, milestone, "R1", None, 3, "Én kommune mangler")
    with pytest.raises(SurveyError, match="reason"):
        fidelity.override_light(db, milestone, "R1", "yellow", "")
    fidelity.override_light(db, milestone, "R1", "yellow", "Mødet er fastlagt i december", actor="anna")
    m = fidelity.status_notes(db, "fid", "R1")["activities"][0]["milestones"][0]
    assert (m["suggested"], m["light"], m["override_reason"], m["overridden_by"]) == \
        ("red", "yellow", "Mødet er fastlagt i december", "anna")
    assert m["comment"] == "Én kommune mangler" and m["value"] == 3
    assert any(e["action"] == "milestone.light_overridden" and e["actor"] == "anna" for e in audit.entries(db))
    fidelity.override_light(db, milestone, "R1", None, None)
    m = fidelity.status_notes(db, "fid", "R1")["activities"][0]["milestones"][0]
    assert m["light"] == "red" and m["override"] is None


def test_not_yet_due_has_no_colour_and_status_words_are_parsed(db, fid_project):
    activity = fidelity.add_activity(db, "fid", "A2", "Familiehandleplaner", owner="Kerneteamet")
    milestone = fidelity.add_milestone(db, activity, "Opfølgning hver 3. måned", "status", due_round="R3")
    fidelity.set_milestone_status(db, milestone, "R2", "På vej", comment="Afprøves")
    fidelity.set_milestone_status(db, milestone, "R3", "Nej")
    r2 = fidelity.status_notes(db, "fid", "R2")["activities"][0]["milestones"][0]
    r3 = fidelity.status_notes(db, "fid", "R3")["activities"][0]["milestones"][0]
    assert (r2["status_label"], r2["due"], r2["light"]) == ("På vej", False, None)
    assert r2["due_round"] == r3["due_round"] == "R3"
    assert (r3["status_label"], r3["due"], r3["light"]) == ("Nej", True, "red")
    assert fidelity.status_notes(db, "fid", "R3")["activities"][0]["light"] == "red"
    with pytest.raises(SurveyError, match="Ja, Nej, På vej or N/A"):
        fidelity.set_milestone_status(db, milestone, "R3", "måske")
    percent = fidelity.add_milestone(db, activity, "Andel uddannet", "percent", target=90)
    with pytest.raises(SurveyError, match="between 0 and 100"):
        fidelity.set_milestone_status(db, percent, "R1", value=120)
    other = fidelity.add_activity(db, "fid", "A3", "Netværk", owner="Sekretariatet")
    fidelity.add_milestone(db, other, "Møde afholdt", "status")
    fidelity.set_milestone_status(db, percent, "R3", value=95)
    by_code = {a["code"]: a for a in fidelity.status_notes(db, "fid", "R3")["activities"]}
    # Each activity lists its own milestones in the order they were added, each with its own note.
    assert [(m["title"], m["status"], m["value"]) for m in by_code["A2"]["milestones"]] == \
        [("Opfølgning hver 3. måned", "nej", None), ("Andel uddannet", None, 95.0)]
    assert [(m["title"], m["status"]) for m in by_code["A3"]["milestones"]] == [("Møde afholdt", None)]


def test_indicator_lifecycle_dropped_and_replaced_kept_through_later_rounds(db, fid_project):
    families = fidelity.add_indicator(db, "fid", "M1", "Familier i indsatsen", "antal", 0, 40, "higher")
    reports = fidelity.add_indicator(db, "fid", "M3", "Underretninger pr. 1.000 unge", "antal", 12, 9, "lower")
    completed = fidelity.add_indicator(db, "fid", "M4", "Familier, der gennemfører", "%", 50, 75, "higher")
    fidelity.set_indicator_value(db, families, "R1", 14)
    fidelity.set_indicator_value(db, reports, "R1", 12.5)
    fidelity.set_indicator_value(db, completed, "R1", 48)
    fidelity.set_indicator_value(db, completed, "R2", 58)
    fidelity.drop_indicator(db, reports, "R2", "Kan ikke opgøres pr. kommune")
    followup = fidelity.replace_indicator(db, completed, "R3", "Forløbene er løbende", "M5", "Opfølgning inden for 3 måneder",
                                          baseline=40, target=80)
    fidelity.set_indicator_value(db, followup, "R3", 63)
    fidelity.set_indicator_value(db, families, "R3", 41)

    def by_code(round_name):
        return {i["code"]: i for i in fidelity.status_notes(db, "fid", round_name)["indicators"]}

    r1, r2, r3 = by_code("R1"), by_code("R2"), by_code("R3")
    # R1: everything active with its values; the replacement does not exist yet.
    assert set(r1) == {"M1", "M3", "M4"}
    assert r1["M3"]["state"] == "active" and r1["M3"]["value"] == 12.5 and r1["M3"]["light"] == "red"
    assert r1["M4"]["light"] == "red"  # 48 is below the baseline 50
    # R2: M3 is dropped and says why; its R1 value stays in its history.
    assert r2["M3"]["state"] == "dropped" and r2["M3"]["light"] is None
    assert r2["M3"]["state_note"] == "Udgået fra R2: Kan ikke opgøres pr. kommune"
    assert r2["M3"]["history"] == [{"round": "R1", "value": 12.5}]
    assert r2["M4"]["state"] == "active" and r2["M4"]["light"] == "yellow"  # 58: better than 50, below 75
    # R3: M3 still listed as dropped, M4 as replaced (pointing at M5), M5 new and pointing back.
    assert set(r3) == {"M1", "M3", "M4", "M5"}
    assert r3["M3"]["state"] == "dropped"
    assert r3["M4"]["state"] == "replaced"
    assert r3["M4"]["state_note"] == "Erstattet fra R3: Forløbene er løbende (erstattet af M5 Opfølgning inden for 3 måneder)"
    assert r3["M4"]["history"] == [{"round": "R1", "value": 48.0}, {"round": "R2", "value": 58.0}]
    assert r3["M5"]["replaces"] == "M4 Familier, der gennemfører" and r3["M5"]["light"] == "yellow"
    assert r3["M1"]["light"] == "green" and r3["M1"]["history"][-1] == {"round": "R3", "value": 41.0}
    # Nothing more is recorded for a dropped or replaced indicator, nor for the new one before its round.
    with pytest.raises(Conflict, match="dropped from round 'R2'"):
        fidelity.set_indicator_value(db, reports, "R3", 10)
    with pytest.raises(Conflict, match="replaced"):
        fidelity.set_indicator_value(db, completed, "R3", 70)
    with pytest.raises(Conflict, match="followed from round 'R3'"):
        fidelity.set_indicator_value(db, followup, "R2", 50)
    # Dropping twice is refused, and a reason is required.
    with pytest.raises(Conflict, match="already"):
        fidelity.drop_indicator(db, reports, "R3", "igen")
    with pytest.raises(SurveyError, match="reason"):
        fidelity.drop_indicator(db, families, "R3", "")


def test_dropped_activity_stays_visible_and_takes_no_status(db, fid_project):
    activity = fidelity.add_activity(db, "fid", "A4", "Netværksmøder", owner="Sekretariatet")
    milestone = fidelity.add_milestone(db, activity, "Møder afholdt", "count", target=3)
    fidelity.set_milestone_status(db, milestone, "R1", None, 1)
    fidelity.drop_activity(db, activity, "R2", "Lagt ind under følgegruppen")
    r1 = fidelity.status_notes(db, "fid", "R1")["activities"][0]
    r3 = fidelity.status_notes(db, "fid", "R3")["activities"][0]
    assert r1["state"] == "active" and r1["milestones"][0]["light"] == "red"
    assert r3["state"] == "dropped" and r3["state_note"] == "Udgået fra R2: Lagt ind under følgegruppen"
    assert r3["milestones"][0]["light"] is None
    with pytest.raises(Conflict):
        fidelity.set_milestone_status(db, milestone, "R3", None, 3)


def test_status_note_exports_carry_rows_and_rules(db, fid_project):
    fidelity.add_indicator(db, "fid", "M1", "Familier i indsatsen", "antal", 0, 40, "higher")
    dropped = fidelity.add_indicator(db, "fid", "M3", "Underretninger", "antal", 12, 9, "lower")
    fidelity.drop_indicator(db, dropped, "R2", "Kan ikke opgøres")
    activity = fidelity.add_activity(db, "fid", "A1", "Kerneteam", owner="PL")
    milestone = fidelity.add_milestone(db, activity, "Nedsat", "status")
    fidelity.set_milestone_status(db, milestone, "R3", "ja", comment="Alle fire")

    text = fidelity.export_status_notes(db, "fid", "R3", "csv").decode("utf-8")
    comments = [line for line in text.splitlines() if line.startswith("# ")]
    assert any("grøn = gennemført som planlagt" in line for line in comments)
    rows = list(csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("# ")))))
    by_code = {r["code"]: r for r in rows}
    assert by_code["A1"]["status"] == "Ja" and by_code["A1"]["light"] == "green" and by_code["A1"]["comment"] == "Alle fire"
    assert by_code["M3"]["state"] == "dropped" and "Kan ikke opgøres" in by_code["M3"]["state_note"]

    workbook = load_workbook(io.BytesIO(fidelity.export_status_notes(db, "fid", "R3", "xlsx")))
    sheet = workbook["Statusnotat"]
    header = [c.value for c in sheet[1]]
    values = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    assert {v["code"] for v in values} == {"A1", "M1", "M3"}
    a1 = next(v for v in values if v["code"] == "A1")
    assert a1["light"] == "green" and sheet.cell(values.index(a1) + 2, header.index("light") + 1).fill.fgColor.rgb.endswith("D8F0DE")
    rules = [r[0].value for r in workbook["Regler"].iter_rows()]
    assert rules[0] == "Statusnotat for projekt fid, runde R3." and any("Udgåede" in r for r in rules)


def test_exports_neutralise_spreadsheet_formulas(db, fid_project):
    activity = fidelity.add_activity(db, "fid", "A1", "Kerneteam", owner="=HYPERLINK(\"http://x\")")
    milestone = fidelity.add_milestone(db, activity, "Nedsat", "status")
    fidelity.set_milestone_status(db, milestone, "R1", "ja", comment="+1 fra sidst")
    text = fidelity.export_status_notes(db, "fid", "R1", "csv").decode("utf-8")
    row = next(csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("# ")))))
    assert row["owner"] == "'=HYPERLINK(\"http://x\")" and row["comment"] == "'+1 fra sidst"
    sheet = load_workbook(io.BytesIO(fidelity.export_status_notes(db, "fid", "R1", "xlsx")))["Statusnotat"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("owner") + 1).value == "'=HYPERLINK(\"http://x\")"
    assert sheet.cell(2, header.index("owner") + 1).data_type == "s"


def test_codes_are_unique_per_project_and_unit(db, fid_project):
    for add, kind in ((lambda code, unit: fidelity.add_activity(db, "fid", code, "Titel", unit=unit), "activity"),
                      (lambda code, unit: fidelity.add_indicator(db, "fid", code, "Titel", unit=unit), "indicator")):
        first = add("X1", "")
        with pytest.raises(Conflict, match=f"{kind} 'X1' exists"):
            add("X1", "")
        nord = add("X1", "Nord")  # the same code for one unit is another row
        with pytest.raises(Conflict, match=f"{kind} 'X1' exists for Nord"):
            add("X1", "Nord")
        find = fidelity.find_activity if kind == "activity" else fidelity.find_indicator
        assert find(db, "fid", "X1")["id"] == first and find(db, "fid", "X1", "Nord")["id"] == nord
        assert find(db, "fid", "X1", "Nord")["position"] == find(db, "fid", "X1")["position"] + 1
        with pytest.raises(SurveyError, match=f"{kind} 'X1' of Syd not found"):
            find(db, "fid", "X1", "Syd")
    assert [e["action"] for e in audit.entries(db) if e["action"].endswith(".added")].count("indicator.added") == 2


def test_status_notes_for_some_units_keep_the_project_wide_rows(db, fid_project):
    fidelity.add_activity(db, "fid", "A1", "Fælles opstart")
    fidelity.add_activity(db, "fid", "A2", "Nords netværk", unit="Nord")
    fidelity.add_activity(db, "fid", "A3", "Syds netværk", unit="Syd")
    fidelity.add_indicator(db, "fid", "M1", "Familier", "antal", 0, 40, "higher")
    fidelity.add_indicator(db, "fid", "M2", "Familier i Syd", "antal", 0, 10, "higher", unit="Syd")
    fidelity.add_indicator(db, "fid", "M3", "Familier i Vest", "antal", 0, 10, "higher", unit="Vest")

    def codes(units):
        notes = fidelity.status_notes(db, "fid", "R1", units)
        return [a["code"] for a in notes["activities"]], [i["code"] for i in notes["indicators"]]

    assert codes(None) == (["A1", "A2", "A3"], ["M1", "M2", "M3"])
    assert codes(["Syd"]) == (["A1", "A3"], ["M1", "M2"])
    assert codes(["Nord", "Vest"]) == (["A1", "A2"], ["M1", "M3"])
    assert codes([]) == (["A1"], ["M1"])
