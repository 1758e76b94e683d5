"""Fixtures of the report tests; the data lives in report_testdata.py."""
from __future__ import annotations

import pytest

from report_testdata import build_report_db


@pytest.fixture
def report_db(db, tmp_path, secret):
    """The project 'eval' (min_n 5) with rounds 'Runde 1' (2013-03) and 'Runde 2' (2013-09)."""
    return build_report_db(db, tmp_path, secret)
