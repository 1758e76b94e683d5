"""Helpers for the reliability, security and performance tests: a round with respondents built
through the real services on a real SQLite file, and bench/load_bench.py loaded as a module.
(A uniquely named module: `from conftest import ...` would pick another folder's conftest.)"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_QUESTIONNAIRE = ROOT / "bench" / "questionnaire-30.yaml"


def load_bench_module():
    """bench/load_bench.py: the simulated respondents and the server runner the benchmark uses."""
    name = "surveyapp_load_bench"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "load_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_round(db, secret: str, people: list[dict], name: str = "Runde 1", anonymous: bool = False,
               yaml_path: Path = BENCH_QUESTIONNAIRE, retention_days: int | None = None, project: str = "p") -> dict:
    """Load the questionnaire, create and open a round with `people` on its list; returns
    {"round_id", "tokens": {key: token}, "invitations": {key: id}}."""
    from surveyapp import questionnaire_store, respondents, rounds, tokens
    from surveyapp.db import transaction

    qid = questionnaire_store.load(db, yaml_path)["questionnaire"]
    round_id = rounds.create_round(db, name, {"": qid}, project=project, anonymous=anonymous, retention_days=retention_days)
    round_ = rounds.get_round(db, round_id)
    ids = {}
    with transaction(db):
        for person in people:
            ids[person["key"]] = respondents.add_invitation(db, round_, person, secret)
    rounds.open_round(db, round_id)
    return {"round_id": round_id, "invitations": ids,
            "tokens": {key: tokens.make_token(secret, iid) for key, iid in ids.items()}}


def person(i: int, unit: str = "Nordby", group: str = "") -> dict:
    return {"key": f"emp{i:04d}", "name": f"Medarbejder Nummer{i:04d}", "email": f"person{i:04d}@kommune.example",
            "group": group, "unit": unit, "attributes": {"cpr_hint": f"ATTR-SECRET-{i:04d}"}}
