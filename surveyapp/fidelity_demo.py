"""Demo data for fidelity and implementation monitoring (called by `surveyapp demo`).

Project 'familie': the family-oriented gang-prevention programme in four municipalities.
Three fidelity rounds (Måling 1 marts 2019, Måling 2 november 2019, Måling 3 maj 2020), each
registered by the municipality's project lead with the core team; one municipality missed
Måling 2 (so the comparison with the other units is suppressed there). A self-evaluation round,
activities with milestones and status notes (one light overridden with a reason), and goal
indicators of which one is dropped and one replaced. Deterministic for a given rng.
"""
from __future__ import annotations

from pathlib import Path

from . import fidelity, questionnaire_store, responses, rounds
from .db import transaction

QUESTIONNAIRE_DIR = Path(__file__).resolve().parent.parent / "questionnaires"
PROJECT = "familie"
PROJECT_NAME = "Familierettet indsats mod bandekriminalitet (demo)"
UNITS = ["Aalborg", "Aarhus", "Esbjerg", "Odense"]
LEADS = {"Aalborg": "Mette Sørensen", "Aarhus": "Jonas Holm", "Esbjerg": "Fatima Ali", "Odense": "Lars Kjær"}
LEVEL = {"Aalborg": 3.5, "Aarhus": 3.1, "Esbjerg": 2.5, "Odense": 2.9}
FIDELITY_ROUNDS = [
    ("Måling 1", "2019-03-01", "2019-03-29"),
    ("Måling 2", "2019-11-01", "2019-11-29"),
    ("Måling 3", "2020-05-01", "2020-05-29"),
]
MISSED = {("Måling 2", "Esbjerg")}
SELF_EVALUATION = ("Selvevaluering 2020", "2020-06-01", "2020-06-26")
REASONS = {
    4: ["Det er tydeligt beskrevet og bliver fulgt i praksis.", "Vi ser det i de fleste sager."],
    3: ["Det er på plads, men ikke alle kender det endnu.", "Der mangler stadig lidt opfølgning."],
    2: ["Vi er i gang, men det er ikke forankret.", "Afhænger af enkelte medarbejdere."],
    1: ["Det er ikke kommet i gang.", "Der har ikke været ressourcer til det."],
}


def build(db, secret: str, rng) -> list[str]:
    if db.execute("SELECT 1 FROM projects WHERE id = ?", (PROJECT,)).fetchone():
        return [f"project '{PROJECT}' exists already; fidelity demo unchanged"]
    questionnaire_store.load(db, QUESTIONNAIRE_DIR / "fidelitet-familie.yaml", actor="demo")
    questionnaire_store.load(db, QUESTIONNAIRE_DIR / "selvevaluering.yaml", actor="demo")
    with transaction(db):
        rounds.ensure_project(db, PROJECT, PROJECT_NAME, min_n=5)
    summary = []
    round_ids = []
    for position, (name, opens, closes) in enumerate(FIDELITY_ROUNDS):
        round_id = fidelity.create_unit_round(db, name, "fidelitet-familie", PROJECT, UNITS, secret, opens, closes, actor="demo")
        round_ids.append(round_id)
        rounds.open_round(db, round_id, actor="demo")
        answered = 0
        for unit in UNITS:
            if (name, unit) in MISSED:
                continue
            _register(db, secret, round_id, unit, opens, rng, lambda q, item, answers: _fidelity_answer(q, item, unit, position, rng))
            answered += 1
        if position < len(FIDELITY_ROUNDS) - 1:
            rounds.close_round(db, round_id, actor="demo")
        summary.append(f"fidelity round '{name}' ({PROJECT}): {answered} of {len(UNITS)} municipalities registered")
    name, opens, closes = SELF_EVALUATION
    se_id = fidelity.create_unit_round(db, name, "selvevaluering", PROJECT, UNITS, secret, opens, closes, actor="demo")
    rounds.open_round(db, se_id, actor="demo")
    for unit in UNITS:
        _register(db, secret, se_id, unit, opens, rng, lambda q, item, answers: _self_evaluation_answer(q, item, unit, rng, answers))
    rounds.close_round(db, se_id, actor="demo")
    summary.append(f"self-evaluation round '{name}' ({PROJECT}): {len(UNITS)} municipalities")
    summary.append(_status_notes(db, round_ids))
    return summary


def _register(db, secret, round_id, unit, opens, rng, answer) -> None:
    started = fidelity.start_registration(
        db, secret, round_id, unit, LEADS[unit], participants=f"Kerneteamet i {unit}: leder, rådgiver, SSP-konsulent",
        mode="in_person", reference_date=opens, actor="demo")
    response = responses.get_response(db, started["response_id"])
    q = responses.questionnaire_of(db, response)
    answers: dict = {}
    for index, section in enumerate(q.sections):
        form = {}
        for item in section.items:
            if not q.is_shown(item, answers, ""):
                continue
            value = answer(q, item, answers)
            if value is None:
                continue
            form[item.id] = value
            answers[item.id] = [int(v) for v in value] if isinstance(value, list) else (int(value) if str(value).isdigit() else value)
        responses.save_page(db, response, index, form)
    responses.submit(db, response)
    stamp = f"{opens}T{rng.randint(9, 15):02d}:{rng.randint(0, 59):02d}:00+00:00"
    with transaction(db):
        db.execute("UPDATE responses SET started_at = ?, last_saved_at = ?, submitted_at = ? WHERE id = ?",
                   (stamp, stamp, stamp, response["id"]))


def _fidelity_answer(q, item, unit, position, rng):
    if item.type == "scale":
        if rng.random() < 0.07:
            return str(q.missing_codes(item)[0])  # "Ved ikke"
        phase_effect = {"ops": 0.3, "udr": 0.0, "ind": -0.3}.get(item.id[:3], 0.1)
        value = round(rng.gauss(LEVEL[unit] + 0.4 * position + phase_effect, 0.6))
        return str(min(5, max(1, value)))
    if item.type == "single":  # the maturity ladder climbs over the rounds
        step = min(4, max(1, round(LEVEL[unit] - 1.5 + position * 0.8 + rng.uniform(-0.3, 0.3))))
        return str(step)
    if item.type == "multiple":
        codes = [c for c in q.substantive_codes(item) if c != 5 and rng.random() < 0.35 + 0.2 * position]
        return [str(c) for c in codes] or ["1"]
    return None


def _self_evaluation_answer(q, item, unit, rng, answers):
    if item.type == "scale":
        if rng.random() < 0.05:
            return "9"
        return str(min(4, max(1, round(rng.gauss(LEVEL[unit] - 0.2, 0.6)))))
    if item.type == "text" and item.id.endswith("_begrundelse"):
        code = answers.get(item.id.removesuffix("_begrundelse"))
        return rng.choice(REASONS[code]) if code in REASONS and rng.random() < 0.8 else None
    return None


def _status_notes(db, round_ids: list[int]) -> str:
    m1, m2, m3 = round_ids
    actor = "demo"
    a1 = fidelity.add_activity(db, PROJECT, "A1", "Etablering af kerneteam i alle kommuner", owner="Projektledergruppen", actor=actor)
    a1m1 = fidelity.add_milestone(db, a1, "Kerneteam nedsat", "status", due_round=m1, actor=actor)
    a1m2 = fidelity.add_milestone(db, a1, "Kommuner med faste kerneteammøder", "count", target=4, due_round=m2, actor=actor)
    a2 = fidelity.add_activity(db, PROJECT, "A2", "Kompetenceudvikling i udredningsværktøjet", owner="Socialstyrelsen og VIVE", actor=actor)
    a2m1 = fidelity.add_milestone(db, a2, "Andel medarbejdere uddannet i værktøjet", "percent", target=90, due_round=m2, actor=actor)
    a3 = fidelity.add_activity(db, PROJECT, "A3", "Familiehandleplaner i alle sager", owner="Kerneteamerne", actor=actor)
    a3m1 = fidelity.add_milestone(db, a3, "Skabelon for familiehandleplan godkendt", "status", due_round=m1, actor=actor)
    a3m2 = fidelity.add_milestone(db, a3, "Familiehandleplaner følges op hver 3. måned", "status", due_round=m3, actor=actor)
    a4 = fidelity.add_activity(db, PROJECT, "A4", "Fælles netværksmøder på tværs af kommunerne", owner="Projektsekretariatet", actor=actor)
    a4m1 = fidelity.add_milestone(db, a4, "Netværksmøder afholdt", "count", target=3, due_round=m2, actor=actor)
    notes = [
        (a1m1, m1, "ja", None, "Alle fire kommuner har nedsat et kerneteam."),
        (a1m1, m2, "ja", None, None),
        (a1m1, m3, "ja", None, None),
        (a1m2, m1, "paa_vej", 2, "Aalborg og Aarhus holder faste møder."),
        (a1m2, m2, None, 3, "Esbjerg mangler faste møder efter personaleudskiftning."),
        (a1m2, m3, None, 4, "Alle kommuner holder nu faste møder."),
        (a2m1, m1, "paa_vej", 35, "Første hold uddannet."),
        (a2m1, m2, None, 70, "Andet hold udskudt til januar."),
        (a2m1, m3, None, 92, None),
        (a3m1, m1, "nej", None, "Skabelonen er sendt i høring."),
        (a3m1, m2, "ja", None, "Godkendt i styregruppen i september."),
        (a3m2, m2, "paa_vej", None, "Ikke forfalden endnu; opfølgning afprøves i Aalborg."),
        (a3m2, m3, "paa_vej", None, "Opfølgning sker, men ikke hver 3. måned i alle kommuner."),
        (a4m1, m1, None, 1, None),
        (a4m1, m2, None, 2, "Mødet i oktober blev aflyst."),
    ]
    for milestone, round_id, status, value, comment in notes:
        fidelity.set_milestone_status(db, milestone, round_id, status, value, comment, actor=actor)
    fidelity.override_light(db, a4m1, m2, "yellow", "Det aflyste møde er flyttet til december og afholdes inden for projektåret.",
                            actor=actor)
    fidelity.drop_activity(db, a4, m3, "Netværksmøderne er lagt ind under den nationale følgegruppe.", actor=actor)
    i1 = fidelity.add_indicator(db, PROJECT, "M1", "Familier i indsatsen", "antal", baseline=0, target=40, direction="higher", actor=actor)
    i2 = fidelity.add_indicator(db, PROJECT, "M2", "Sager med familiehandleplan", "%", baseline=20, target=80, direction="higher", actor=actor)
    i3 = fidelity.add_indicator(db, PROJECT, "M3", "Underretninger om kriminalitet pr. 1.000 unge", "antal", baseline=12, target=9,
                                direction="lower", actor=actor)
    i4 = fidelity.add_indicator(db, PROJECT, "M4", "Familier, der gennemfører forløbet", "%", baseline=50, target=75,
                                direction="higher", actor=actor)
    for indicator, values in ((i1, (14, 27, 41)), (i2, (25, 55, 72)), (i3, (12.5, None, None)), (i4, (48, 58, None))):
        for round_id, value in zip(round_ids, values):
            if value is not None:
                fidelity.set_indicator_value(db, indicator, round_id, value, actor=actor)
    fidelity.drop_indicator(db, i3, m2, "Kan ikke opgøres pr. kommune i politiets statistik.", actor=actor)
    i5 = fidelity.replace_indicator(db, i4, m3, "Forløbene er løbende; gennemførelse kan ikke afgrænses.", "M5",
                                    "Familier med opfølgning inden for 3 måneder", "%", baseline=40, target=80, actor=actor)
    fidelity.set_indicator_value(db, i5, m3, 63, "Første opgørelse efter ny definition.", actor=actor)
    return f"status notes ({PROJECT}): 4 activities, 6 milestones, 5 indicators (1 dropped, 1 replaced)"
