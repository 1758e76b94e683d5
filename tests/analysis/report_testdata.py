"""Test data of tests/analysis (imported by its conftest.py and the tests; a unique module name so
it never collides with another folder's conftest): a small, fully known
project for the report tests: two groups, two rounds, a reworded item,
a reverse-keyed item, an index, a construct shared by both groups, an anonymous round.

Every answer is written here, so the tests can compute the expected statistics by hand or
with numpy/scipy from the same table (never from the code under test)."""
from __future__ import annotations

import textwrap

from surveyapp import questionnaire_store, respondents, rounds
from surveyapp.db import transaction
from surveyapp.responses import import_responses
from survey_yaml import GRAD4_SCALES

def staff_yaml(q3_version: int) -> str:
    q3 = ("- {id: q3, text: 'Ny formulering af q3', scale: grad4, version: 2}" if q3_version == 2
          else "- {id: q3, text: 'Gammel formulering af q3', scale: grad4}")
    return textwrap.dedent("""\
        id: t-staff
        title: Medarbejdere (test)
        personal: true
        """) + GRAD4_SCALES + textwrap.dedent(f"""\
        sections:
          - id: s1
            title: Del 1
            items:
              - {{id: q1, text: 'Samarbejdet er godt', scale: grad4, construct: coop}}
              - {{id: q2, text: 'Det er svært at prioritere', scale: grad4, reverse: true}}
              {q3}
              - {{id: fritekst, type: text, text: 'Kommentar'}}
        indices:
          - {{id: samlet, title: Samlet indeks, items: [q1, q2]}}
        """)


LEAD_YAML = textwrap.dedent("""\
    id: t-lead
    title: Ledere (test)
    personal: true
    """) + GRAD4_SCALES + textwrap.dedent("""\
    sections:
      - id: s1
        title: Del 1
        items:
          - {id: l1, text: 'Samarbejdet blandt ledere er godt', scale: grad4, construct: coop}
    """)

# Answers: key -> (group, unit, {round: (status, {item: code or None})}).
# Units A, B, C; minimum n = 5.
ROUND1 = "Runde 1"
ROUND2 = "Runde 2"
STAFF = {
    # key: unit, round-1 answers (q1, q2, q3), round-2 answers (q1, q2, q3) or None = not in round 2
    "s01": ("A", (4, 1, 3), (4, 2, 4)),
    "s02": ("A", (3, 2, 9), (4, 1, 3)),
    "s03": ("A", (3, 9, 2), (3, 2, 3)),
    "s04": ("A", (2, 3, 2), (3, 3, 2)),
    "s05": ("A", (9, 4, 1), (2, 4, 1)),
    "s06": ("A", (4, 1, 4), None),
    "s07": ("B", (1, 4, 1), (2, 4, 2)),
    "s08": ("B", (2, None, 2), (2, 3, 2)),
    "s09": ("B", (3, 2, 3), None),
    "s10": ("C", (4, 1, 4), (4, 1, 4)),   # unit C: 2 people -> suppressed
    "s11": ("C", (3, 2, 9), (9, 9, 9)),
}
LEADS = {
    "l01": ("A", 4, 4), "l02": ("A", 4, 3), "l03": ("B", 3, 3), "l04": ("B", 2, 3), "l05": ("C", 4, 4), "l06": ("C", 3, None),
}


def _csv(rows: list[dict], columns: list[str]) -> bytes:
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join("" if row.get(c) is None else str(row[c]) for c in columns))
    return ("\n".join(lines) + "\n").encode()


def build_report_db(db, tmp_path, secret) -> dict:
    """The project 'eval' (min_n 5) with rounds 'Runde 1' (2013-03) and 'Runde 2' (2013-09)."""
    (tmp_path / "staff1.yaml").write_text(staff_yaml(1), encoding="utf-8")
    (tmp_path / "staff2.yaml").write_text(staff_yaml(2), encoding="utf-8")
    (tmp_path / "lead.yaml").write_text(LEAD_YAML, encoding="utf-8")
    with transaction(db):
        rounds.ensure_project(db, "eval", "Evalueringsprojekt", min_n=5)
    questionnaire_store.load(db, tmp_path / "staff1.yaml")
    questionnaire_store.load(db, tmp_path / "staff2.yaml")
    questionnaire_store.load(db, tmp_path / "lead.yaml")
    r1 = rounds.create_round(db, ROUND1, {"medarbejdere": "t-staff@1", "ledere": "t-lead"}, "eval", "2013-03-04", "2013-03-29")
    r2 = rounds.create_round(db, ROUND2, {"medarbejdere": "t-staff@2", "ledere": "t-lead"}, "eval", "2013-09-02", "2013-09-27")
    with transaction(db):
        for key, (unit, a, b) in STAFF.items():
            respondents.add_invitation(db, rounds.get_round(db, r1), {"key": key, "group": "medarbejdere", "unit": unit,
                                                                     "attributes": {"senior": "ja" if key < "s05" else "nej"}}, secret)
            if b is not None:
                respondents.add_invitation(db, rounds.get_round(db, r2), {"key": key, "group": "medarbejdere", "unit": unit}, secret)
        for key, (unit, a, b) in LEADS.items():
            respondents.add_invitation(db, rounds.get_round(db, r1), {"key": key, "group": "ledere", "unit": unit}, secret)
            respondents.add_invitation(db, rounds.get_round(db, r2), {"key": key, "group": "ledere", "unit": unit}, secret)
        # Invited to round 2 but never answered.
        respondents.add_invitation(db, rounds.get_round(db, r2), {"key": "s99", "group": "medarbejdere", "unit": "B"}, secret)
    for round_id, index in ((r1, 1), (r2, 2)):
        rounds.open_round(db, round_id)
        staff_rows = []
        for key, (unit, a, b) in STAFF.items():
            values = a if index == 1 else b
            if values is None:
                continue
            staff_rows.append({"key": key, "status": "complete", "q1": values[0], "q2": values[1], "q3": values[2]})
        import_responses(db, round_id, data=_csv(staff_rows, ["key", "status", "q1", "q2", "q3"]), filename="staff.csv")
        lead_rows = [{"key": key, "status": "complete", "l1": (a if index == 1 else b)} for key, (unit, a, b) in LEADS.items()
                     if (a if index == 1 else b) is not None]
        import_responses(db, round_id, data=_csv(lead_rows, ["key", "status", "l1"]), filename="lead.csv")
    return {"db": db, "r1": r1, "r2": r2}
