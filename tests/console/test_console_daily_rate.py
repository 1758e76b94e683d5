"""analysis.rates.daily_rate: the response rate day by day, on hand-made rows."""
from __future__ import annotations

import pytest

from analysis.rates import daily_rate


def row(status, answered, applicable, submitted=None, saved=None):
    return {"status": status, "answered": answered, "applicable": applicable, "submitted_at": submitted, "last_saved_at": saved}


def test_cumulative_rate_per_day():
    responses = [
        row("complete", 4, 4, "2015-03-02T09:00:00+00:00", "2015-03-02T09:00:00+00:00"),
        row("complete", 3, 4, "2015-03-04T16:30:00+00:00", "2015-03-01T10:00:00+00:00"),  # counted when submitted
        row("started", 2, 4, None, "2015-03-03T08:00:00+00:00"),    # valid partial (2/4 >= 0.5): its last save
        row("started", 1, 4, None, "2015-03-03T08:00:00+00:00"),    # break-off: never counted
        row("started", 0, 0, None, None),                            # opened, nothing saved
        row("complete", 4, 4, "2015-02-27", "2015-02-27"),           # before the period: on the first day
        row("complete", 4, 4, "2015-03-09T12:00:00+00:00", None),   # after the period: on the last day
    ]
    rows = daily_rate(responses, invited=10, start="2015-03-02", end="2015-03-05", threshold=0.5)
    assert rows == [
        {"date": "2015-03-02", "new": 2, "responded": 2, "rate": 20.0},
        {"date": "2015-03-03", "new": 1, "responded": 3, "rate": 30.0},
        {"date": "2015-03-04", "new": 1, "responded": 4, "rate": 40.0},
        {"date": "2015-03-05", "new": 1, "responded": 5, "rate": 50.0},
    ]


def test_threshold_decides_partials_and_empty_list_has_no_rate():
    partial = [row("started", 3, 5, None, "2015-03-02T10:00:00")]
    assert daily_rate(partial, 3, "2015-03-02", "2015-03-02", 0.6)[0]["responded"] == 1   # 3/5 = 0.6 >= 0.6
    assert daily_rate(partial, 3, "2015-03-02", "2015-03-02", 0.61)[0]["responded"] == 0
    assert daily_rate(partial, 3, "2015-03-02", "2015-03-02", 0.6)[0]["rate"] == round(100 / 3, 2)
    assert daily_rate([], 0, "2015-03-02", "2015-03-03", 0.5) == [
        {"date": "2015-03-02", "new": 0, "responded": 0, "rate": None},
        {"date": "2015-03-03", "new": 0, "responded": 0, "rate": None}]
    with pytest.raises(ValueError):
        daily_rate([], 1, "2015-03-05", "2015-03-02", 0.5)
