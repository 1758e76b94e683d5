"""Plain helpers for the browser tests (importable by name: pytest puts tests/browser on the path)."""
from __future__ import annotations


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core (served from the axe-playwright-python package, no network) on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in impacts]


def area_helpers(folder: str, module: str):
    """Another test folder's helper module (tests/<folder>/<module>.py), which is not on the path here."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / folder / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"{folder}_{module}_for_browser", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded
