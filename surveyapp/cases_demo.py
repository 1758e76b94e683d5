"""Demo data for progress measurements: project 'familieprogression', three municipalities,
about 25 families with children, young people and parents of various ages, and measurements
with realistic gaps (missed follow-ups, late registrations, drop-outs, a few self-completion
links not yet answered).

Dates are laid out relative to today, so the work list always shows people who are due, overdue
and done. Called by `surveyapp demo` (see surveyapp/demo.py).
"""
from __future__ import annotations

import datetime as dt
import random

from . import cases
from .schedule import SCHEDULE_DIR, age_on

PROJECT = "familieprogression"
UNITS = ["Esbjerg", "Holbæk", "Næstved"]
FAMILIES_PER_UNIT = (9, 8, 8)
FIRST_NAMES = ["Emma", "Noah", "Ida", "William", "Freja", "Oscar", "Alma", "Lucas", "Clara", "Malthe", "Ella", "Victor",
               "Sofia", "Elias", "Anna", "Magnus", "Laura", "Carl", "Mathilde", "Alfred"]
PARENT_NAMES = ["Mette", "Henrik", "Louise", "Thomas", "Camilla", "Martin", "Pernille", "Jesper", "Sara", "Kasper"]
SURNAMES = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen", "Poulsen"]
TAKE_UP = {"baseline": 0.92, "M1": 0.78, "M2": 0.62, "M3": 0.5}
PROFESSIONALS = {"Esbjerg": "Lene Mikkelsen", "Holbæk": "Jonas Berg", "Næstved": "Rikke Dahl"}


def build(db, secret: str, rng: random.Random, today: dt.date | None = None) -> list[str]:
    today = today or dt.date.today()
    if db.execute("SELECT 1 FROM cases WHERE project_id = ? LIMIT 1", (PROJECT,)).fetchone():
        return [f"project '{PROJECT}' has families already; nothing added"]
    from .rounds import ensure_project
    from .db import transaction

    with transaction(db):
        ensure_project(db, PROJECT, "Familieprogression (demo)", min_n=5)
    schedule_id = cases.load_schedule(db, SCHEDULE_DIR / "familie-progression.yaml", actor="demo")["schedule"]
    schedule = cases.get_schedule(db, schedule_id)
    families = members = registered = links = closed = 0
    number = 0
    for unit, how_many in zip(UNITS, FAMILIES_PER_UNIT):
        for _ in range(how_many):
            number += 1
            families += 1
            opened = today - dt.timedelta(days=rng.randint(20, 760))
            key = f"F{number:03d}"
            surname = rng.choice(SURNAMES)
            cases.open_case(db, PROJECT, key, unit, opened.isoformat(), schedule_id, label=f"Familien {surname}", actor="demo")
            people = []
            for p in range(rng.choice([1, 1, 2])):
                birth = opened - dt.timedelta(days=rng.randint(26 * 365, 48 * 365))
                people.append(("forael", birth, rng.choice(PARENT_NAMES)))
            for c in range(rng.choice([1, 1, 2, 3])):
                # Ages spread from 8 to 20 at intake, so some cross 14 or 18 during the programme.
                birth = opened - dt.timedelta(days=rng.randint(8 * 365, 20 * 365))
                people.append(("barn", birth, rng.choice(FIRST_NAMES)))
            dropout = rng.random() < 0.18
            for index, (role, birth, first_name) in enumerate(people, start=1):
                member_key = f"{key}-{index}"
                intake = opened if index < 3 or rng.random() < 0.7 else opened + dt.timedelta(days=rng.randint(10, 60))
                if intake > today:
                    intake = opened
                email = f"{first_name.lower()}.{surname.lower().replace('ø', 'oe')}{number}@example.org" if role == "forael" or age_on(birth, today) >= 15 else None
                member_id = cases.add_member(db, key, member_key, role, birth.isoformat(), intake.isoformat(),
                                             f"{first_name} {surname}", email, actor="demo")
                members += 1
                wellbeing = min(0.9, max(0.1, rng.gauss(0.45, 0.15)))
                for slot in schedule.measurements:
                    target, start, end = schedule.due(slot.id, intake)
                    if start > today:
                        break
                    if dropout and slot.months >= 12:
                        break
                    wellbeing = min(0.95, max(0.05, wellbeing + (rng.gauss(0.06, 0.08) if slot.months else 0)))
                    if rng.random() > TAKE_UP[slot.id]:
                        continue
                    late = rng.random() < 0.15
                    reference = target + dt.timedelta(days=rng.randint(35, 90) if late else rng.randint(-10, 25))
                    if reference > today:
                        if rng.random() < 0.3 and email:
                            cases.self_completion_link(db, secret, "http://127.0.0.1:5000", member_key, slot.id,
                                                       PROFESSIONALS[unit], today=today)
                            links += 1
                        continue
                    reference = max(reference, intake)
                    mode = rng.choices(["in_person", "phone", "self_completion"], weights=[6, 3, 1])[0]
                    route = cases.routing(db, cases.get_member(db, member_id), slot.id, reference)
                    for qid in route["instruments"]:
                        q = cases.questionnaire_store.get_version(db, cases.questionnaire_store.resolve_version(db, qid)["id"])
                        answers = _answers(q, set(route["hidden"][qid]), wellbeing, rng)
                        cases.register_measurement(db, secret, member_id, slot.id, qid, answers, mode, reference.isoformat(),
                                                   PROFESSIONALS[unit], today=today)
                        registered += 1
            if dropout:
                last = max(opened + dt.timedelta(days=rng.randint(60, 300)),
                           *(dt.date.fromisoformat(m["intake_on"]) for m in cases.members_of(db, cases.get_case(db, key)["id"])))
                last_measured = db.execute(
                    "SELECT MAX(r.reference_date) FROM measurements ms JOIN responses r ON r.id = ms.response_id "
                    "JOIN case_members m ON m.id = ms.member_id JOIN cases c ON c.id = m.case_id WHERE c.key = ?", (key,)).fetchone()[0]
                if last_measured:
                    last = max(last, dt.date.fromisoformat(last_measured))
                if last <= today:
                    cases.close_case(db, key, last.isoformat(), "Familien er stoppet i forløbet", actor="demo")
                    closed += 1
    return [f"progress measurements '{PROJECT}': {families} families ({closed} closed), {members} members, "
            f"{registered} measurements registered, {links} self-completion links waiting"]


def _answers(q, hidden: set[str], wellbeing: float, rng: random.Random) -> dict:
    stress = q.id == "foraeldrestress"
    answers = {}
    for item in q.question_items():
        if item.id in hidden:
            continue
        codes = q.substantive_codes(item)
        if item.type == "single":
            answers[item.id] = str(rng.choice(codes))
            continue
        if item.type != "scale":
            continue
        if rng.random() < 0.02 and q.missing_codes(item):
            answers[item.id] = str(q.missing_codes(item)[0])
            continue
        level = wellbeing if (not stress or item.reverse) else 1 - wellbeing
        low, high = min(codes), max(codes)
        value = round(low + level * (high - low) + rng.gauss(0, 0.7))
        answers[item.id] = str(min(max(value, low), high))
    return answers


__all__ = ["build", "PROJECT"]
