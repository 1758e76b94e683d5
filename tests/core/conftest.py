"""Fixtures for the core tests: the CLI on a temporary database, a small questionnaire."""
from __future__ import annotations

from pathlib import Path

import pytest

from core_helpers import Cli, write
from survey_yaml import SMALL_YAML


@pytest.fixture
def cli(db_path) -> Cli:
    return Cli(db_path)


@pytest.fixture
def small_yaml(tmp_path) -> Path:
    return write(tmp_path / "small.yaml", SMALL_YAML)
