"""Plain helpers for the browser tests (importable by name: pytest puts tests/browser on the path)."""
from __future__ import annotations


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core (served from the axe-playwright-python package, no network) on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in impacts]
