"""`surveyapp demo`: a realistic project so dashboards and trend figures show something real.

Six municipalities, managers and staff, three rounds (Marts 2013, September 2013,
September 2014) with the item sets of their time, a panel that mostly carries over, believable
trends, and some valid and some invalid partial responses. Deterministic for a given seed.
"""
from __future__ import annotations

import datetime as dt
import importlib
import random
import zlib
from pathlib import Path

from . import questionnaire_store, respondents, responses, rounds, tokens, users
from .db import transaction

QUESTIONNAIRE_DIR = Path(__file__).resolve().parent.parent / "questionnaires"
PROJECT = "forebyggelse"
MUNICIPALITIES = ["Horsens", "Kolding", "Randers", "Silkeborg", "Vejle", "Herning"]
ROUNDS = [
    # name, opens, closes, questionnaire version, share answering, mean shift
    ("Marts 2013", "2013-03-04", "2013-03-29", 1, 0.62, 0.0),
    ("September 2013", "2013-09-02", "2013-09-27", 2, 0.55, 0.18),
    ("September 2014", "2014-09-01", "2014-09-26", 3, 0.50, 0.35),
]
GROUPS = {"medarbejdere": ("forebyggelse-medarbejdere", 34), "ledere": ("forebyggelse-ledere", 9)}
DEMO_USERS = [
    ("admin", "demo-admin-pass", "admin", []),
    ("evaluator", "demo-evaluator-pass", "evaluator", []),
    ("horsens", "demo-horsens-pass", "unit_lead", ["Horsens"]),
]
# Areas that add their own demo data (fidelity, citizens' progress): each module's build(db, secret, rng).
EXTRA_DEMOS = ("surveyapp.fidelity_demo", "surveyapp.cases_demo")


def build_demo(db, secret: str, seed: int = 2013, force: bool = False) -> list[str]:
    if not force and any(p["id"] == PROJECT for p in rounds.list_projects(db)):
        return ["the demo project exists already; nothing changed (use --force on a new database to rebuild)"]
    rng = random.Random(seed)
    with transaction(db):
        rounds.ensure_project(db, PROJECT, "Forebyggelse og inklusion (demo)", min_n=5)
    for qid, _ in GROUPS.values():
        for path in (QUESTIONNAIRE_DIR / "history" / f"{qid}-r1.yaml", QUESTIONNAIRE_DIR / "history" / f"{qid}-r2.yaml",
                     QUESTIONNAIRE_DIR / f"{qid}.yaml"):
            questionnaire_store.load(db, path, actor="demo")
    people = _people(rng)
    summary = []
    for index, (name, opens, closes, version, answer_share, shift) in enumerate(ROUNDS):
        round_id = rounds.create_round(
            db, name, {g: f"{qid}@{version}" for g, (qid, _) in GROUPS.items()}, PROJECT, opens, closes,
            partial_threshold=0.5, actor="demo")
        on_list = [p for p in people if p["rounds"][index]]
        round_ = rounds.get_round(db, round_id)
        with transaction(db):
            invitation_ids = [respondents.add_invitation(db, round_, person, secret) for person in on_list]
        rounds.open_round(db, round_id, actor="demo")
        answered = _answer_round(db, secret, list(zip(on_list, invitation_ids)), rng, answer_share, shift, opens, closes)
        if index < len(ROUNDS) - 1:
            rounds.close_round(db, round_id, actor="demo")
        summary.append(f"round '{name}': {len(on_list)} invited, {answered} answered")
    for username, password, role, units in DEMO_USERS:
        if not db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            users.create_user(db, username, password, role, units, actor="demo")
    for module_name in EXTRA_DEMOS:
        summary.extend(importlib.import_module(module_name).build(db, secret, rng))
    return summary


def _people(rng: random.Random) -> list[dict]:
    """Panel members with the rounds they are on: most stay, some leave, newcomers join."""
    people = []
    for unit in MUNICIPALITIES:
        for group, (_, size) in GROUPS.items():
            for n in range(int(size * 1.4)):
                first_round = 0 if n < size else rng.choice([1, 2])
                on = []
                present = False
                for r in range(3):
                    if r == first_round:
                        present = True
                    elif present and rng.random() < 0.15:
                        present = False
                    on.append(present)
                key = f"{unit[:3].lower()}-{group[:3]}-{n:03d}"
                people.append({"key": key, "email": f"{key}@{unit.lower()}.demo.dk", "name": f"{group[:-1].title()} {n + 1} ({unit})",
                               "group": group, "unit": unit, "rounds": on,
                               "attributes": {"anciennitet": rng.choice(["0-2 år", "3-5 år", "6+ år"])}})
    return people


def _answer_round(db, secret, on_list, rng, answer_share, shift, opens, closes) -> int:
    """Answer the round as `on_list` ([(person, invitation id)]) would: some never open the link."""
    unit_effect = {u: rng.uniform(-0.35, 0.35) for u in MUNICIPALITIES}
    opened = dt.date.fromisoformat(opens)
    days = (dt.date.fromisoformat(closes) - opened).days
    answered = 0
    for person, invitation_id in on_list:
        willing = answer_share + (0.08 if person["group"] == "ledere" else 0) + unit_effect[person["unit"]] / 4
        roll = rng.random()
        if roll > willing + 0.08:
            continue  # never opened the link
        token = tokens.make_token(secret, invitation_id)
        invitation = tokens.find_invitation(db, secret, token)
        response = responses.start_response(db, secret, token, invitation)
        q = responses.questionnaire_of(db, response)
        partial = roll > willing
        pages = len(q.sections) if not partial else rng.choice([1, max(1, len(q.sections) - 1)])
        answers: dict = {}
        for section_index, section in enumerate(q.sections[:pages]):
            form = {}
            for item in section.items:
                if not q.is_shown(item, answers, person["group"]):
                    continue
                value = _answer(q, item, person, shift + unit_effect[person["unit"]], rng)
                if value is not None:
                    form[item.id] = value
                    answers[item.id] = int(value) if str(value).isdigit() else value
            responses.save_page(db, response, section_index, form)
        day = opened + dt.timedelta(days=min(days, int(rng.expovariate(1 / 5))))
        stamp = f"{day.isoformat()}T{rng.randint(8, 15):02d}:{rng.randint(0, 59):02d}:00+00:00"
        if not partial:
            responses.submit(db, response)
        with transaction(db):
            db.execute("UPDATE responses SET started_at = ?, last_saved_at = ?, submitted_at = CASE WHEN status = 'complete' THEN ? END "
                       "WHERE id = ?", (stamp, stamp, stamp, response["id"]))
            db.execute("UPDATE answers SET saved_at = ? WHERE response_id = ?", (stamp, response["id"]))
        answered += 1
    return answered


def _answer(q, item, person, shift, rng):
    if item.type == "scale":
        if rng.random() < 0.06:
            return str(q.missing_codes(item)[0]) if q.missing_codes(item) else None
        if rng.random() < 0.03:
            return None  # skipped
        base = 2.7 + shift + (0.25 if person["group"] == "ledere" else 0) + (zlib.crc32(item.id.encode()) % 7 - 3) * 0.08
        value = round(rng.gauss(base, 0.8))
        codes = q.substantive_codes(item)
        return str(min(max(value, min(codes)), max(codes)))
    if item.type == "single":
        codes = q.substantive_codes(item)
        return str(rng.choices(codes, weights=[6 if i < len(codes) - 1 else 1 for i in range(len(codes))])[0])
    if item.type == "text":
        return rng.choice(["Familierådgiver", "Ergoterapeut", "Tandplejer"]) if item.id.endswith("_andet") else None
    return None
