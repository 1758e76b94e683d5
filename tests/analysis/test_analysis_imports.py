"""analysis/ is pure statistics over plain data: no module of it imports Flask, SQLite or
surveyapp (at module level or inside a function), so it runs in a notebook or another tool."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ANALYSIS = Path(__file__).resolve().parents[2] / "analysis"
FORBIDDEN = {"flask", "flask_wtf", "werkzeug", "sqlite3", "surveyapp"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(ANALYSIS.glob("*.py")), ids=lambda p: p.name)
def test_analysis_module_imports_no_web_database_or_app_code(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from surveyapp.db import connect\n    import sqlite3\n", encoding="utf-8")
    assert imported_modules(sample) == {"surveyapp.db", "sqlite3"}
