"""Shared by the core tests (imported by name; conftest.py holds the fixtures)."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from surveyapp.cli import main

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    def __init__(self, db_path: Path):
        self.db_path = db_path
        self.runner = CliRunner()

    def __call__(self, *args, ok: bool = True):
        result = self.runner.invoke(main, ["--db", str(self.db_path), *map(str, args)], catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"surveyapp {' '.join(map(str, args))} exited {result.exit_code}:\n"
                                 f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    def json(self, *args):
        result = self(*args)
        return json.loads(result.stdout)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
