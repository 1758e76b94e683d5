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

