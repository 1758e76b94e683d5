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


# A small questionnaire for rounds, imports and rates: four scale items with "Ved ikke",
# q5 shown only after q1 = 1, q6 asked of managers (lead) only, and a free-text item.
SMALL_YAML = """\
id: small
title: Lille skema
scales:
  grad4:
    options:
      - {code: 4, label: I høj grad}
      - {code: 3, label: I nogen grad}
      - {code: 2, label: I mindre grad}
      - {code: 1, label: Slet ikke}
    missing:
      - {code: 9, label: Ved ikke}
sections:
  - id: side1
    title: Side 1
    items:
      - {id: q1, text: Spørgsmål et, scale: grad4}
      - {id: q2, text: Spørgsmål to, scale: grad4}
      - {id: q3, text: Spørgsmål tre, scale: grad4}
      - {id: q4, text: Spørgsmål fire, scale: grad4}
      - {id: q5, text: Kun efter slet ikke, scale: grad4, show_if: {item: q1, equals: 1}}
      - {id: q6, text: Kun for ledere, scale: grad4, groups: [lead]}
"""
