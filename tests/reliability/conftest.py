"""Fixtures for the reliability, security and performance tests (helpers: reliability_support.py)."""
from __future__ import annotations

import pytest

from reliability_support import load_bench_module


@pytest.fixture(scope="session")
def bench():
    """bench/load_bench.py: the simulated respondents, the server runner and the database check."""
    return load_bench_module()
