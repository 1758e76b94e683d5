"""Fixtures for the progress-measurement tests: a real SQLite file with the shipped schedule
(familie-progression) and its instruments loaded, and a helper that builds families."""
from __future__ import annotations

import pytest

from surveyapp import cases
from surveyapp.schedule import SCHEDULE_DIR

PROJECT = "fp-test"


@pytest.fixture
def loaded(db):
    cases.load_schedule(db, SCHEDULE_DIR / "familie-progression.yaml", actor="test")
    return db


def who5(*codes):
    return {f"who5_{i}": str(c) for i, c in enumerate(codes, start=1)}


def trivsel(*codes, fritidsjob=None):
    ids = ["trivsel_humoer", "trivsel_hjemme", "trivsel_skole", "trivsel_venner", "trivsel_overskud"]
    answers = {i: str(c) for i, c in zip(ids, codes)}
    if fritidsjob is not None:
        answers["fritidsjob"] = str(fritidsjob)
    return answers
