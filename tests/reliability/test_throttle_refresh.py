"""The throttle's per-worker copy of the blocks: good links cost no database read per request,
and a client blocked by another worker is refused within THROTTLE_REFRESH seconds."""
from __future__ import annotations

from surveyapp.throttle import Throttle, client_key


def _statements(db):
    seen = []
    db.conn.set_trace_callback(seen.append)
    return seen


def test_a_block_counted_by_another_worker_is_seen_within_the_refresh_interval(db):
    now, tick = [1000.0], [0.0]
    a = Throttle(limit=3, window=60, block=120, clock=lambda: now[0], refresh=2, monotonic=lambda: tick[0])
    b = Throttle(limit=3, window=60, block=120, clock=lambda: now[0], refresh=2, monotonic=lambda: tick[0])
    who, other = client_key("k", "192.0.2.1"), client_key("k", "192.0.2.2")
    assert b.blocked_until(db, who) is None  # b has read the (empty) blocks
    for _ in range(3):
        a.record_failure(db, who)
    assert a.blocked_until(db, who) == 1120.0  # the worker that counted the miss: at once
    tick[0] += 1.9
    assert b.blocked_until(db, who) is None  # b's copy is 1.9 s old: not yet
    tick[0] += 0.1
    assert b.blocked_until(db, who) == 1120.0  # 2 s: b has re-read the table
    assert b.blocked_until(db, other) is None
    now[0] += 121  # the block runs out in both workers without a database write
    assert a.blocked_until(db, who) is None and b.blocked_until(db, who) is None


def test_good_requests_read_the_table_once_per_refresh_interval(db):
    tick = [0.0]
    throttle = Throttle(refresh=2, monotonic=lambda: tick[0])
    seen = _statements(db)
    for n in range(50):
        tick[0] = n * 0.1  # 50 requests over 5 s
        assert throttle.blocked_until(db, client_key("k", f"198.51.100.{n}")) is None
    reads = [s for s in seen if "token_throttle" in s]
    assert len(reads) == 3  # at 0, 2 and 4 s
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for s in reads)


def test_refresh_zero_reads_every_time(db):
    throttle = Throttle(refresh=0)
    seen = _statements(db)
    for _ in range(5):
        throttle.blocked_until(db, client_key("k", "192.0.2.9"))
    assert len([s for s in seen if "token_throttle" in s]) == 5
