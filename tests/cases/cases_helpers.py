"""Answer dictionaries for the progress-measurement tests (imported by name, not via conftest)."""
from __future__ import annotations


def who5(*codes):
    return {f"who5_{i}": str(c) for i, c in enumerate(codes, start=1)}


def trivsel(*codes, fritidsjob=None):
    ids = ["trivsel_humoer", "trivsel_hjemme", "trivsel_skole", "trivsel_venner", "trivsel_overskud"]
    answers = {i: str(c) for i, c in zip(ids, codes)}
    if fritidsjob is not None:
        answers["fritidsjob"] = str(fritidsjob)
    return answers
