#!/usr/bin/env python3
"""Load benchmark: simulated respondents answering a 30-item questionnaire over real HTTP.

    .venv/bin/python bench/load_bench.py                       # 200 respondents, 50 at a time
    .venv/bin/python bench/load_bench.py --respondents 500 --concurrency 50 --workers 3 --threads 1 --duration 120   # another layout
    .venv/bin/python bench/load_bench.py --think 1.0           # respondents pause ~1 s between requests

What it does, all on loopback in one run:
1. builds its own database in a temporary folder: bench/questionnaire-30.yaml (5 pages of 6
   items), one open round, N respondents with personal links;
2. starts the real server (`surveyapp serve`, gunicorn, the same workers and threads for both phases);
3. baseline: C clients hammer GET /healthz (the trivial endpoint) for --baseline-seconds;
4. answering: N respondents, C at a time, each opens its link, reads the CSRF token from each
   page, POSTs every page (all 6 items), opens the review and submits; bounded by --duration;
5. prints requests/s, latency p50/p95/p99, errors, page saves/s and the ratio to the baseline;
6. stops the server and checks the database: every page save the server acknowledged (a
   2xx/3xx answer) is stored exactly once with the values sent, no page is half-written,
   and PRAGMA integrity_check is ok.

The tests in tests/reliability/ import this module for the respondent simulation and the server
runner (the SIGKILL test), so the benchmark and the fault test exercise the same code.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONNAIRE = Path(__file__).resolve().parent / "questionnaire-30.yaml"
# The `surveyapp` command of the Python running this script (works wherever the venv lives).
SURVEYAPP_COMMAND = [sys.executable, "-c", "import sys; from surveyapp.cli import main; sys.exit(main())"]
SECRET = "load-bench-secret-key-not-for-production"
CSRF_RE_BYTES = re.compile(rb'name="csrf_token"\s+value="([^"]+)"')  # searched in the raw body: no decoding
if str(ROOT) not in sys.path:  # `surveyapp` importable however the script is started
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------- the database


def prepare(db_path: Path, respondents: int, secret: str = SECRET, anonymous: bool = False) -> dict:
    """A fresh database with the 30-item questionnaire, an open round and `respondents` links.
    Returns {"round_id", "tokens": [token, ...], "invitations": [id, ...]} in respondent order."""
    from surveyapp import questionnaire_store, respondents as respondent_service, rounds, tokens
    from surveyapp.db import connect, migrate, transaction

    db = connect(db_path)
    migrate(db)
    questionnaire_store.load(db, QUESTIONNAIRE)
    round_id = rounds.create_round(db, "Belastning", {"": "bench-30"}, project="bench", anonymous=anonymous)
    round_ = rounds.get_round(db, round_id)
    ids = []
    with transaction(db):
        for i in range(respondents):
            ids.append(respondent_service.add_invitation(
                db, round_, {"key": f"r{i:05d}", "email": f"r{i:05d}@bench.example", "unit": f"Enhed {i % 6 + 1}"}, secret))
    rounds.open_round(db, round_id)
    db.conn.close()
    return {"round_id": round_id, "invitations": ids, "tokens": [tokens.make_token(secret, i) for i in ids]}


def questionnaire_pages() -> list[list[tuple[str, str]]]:
    """[(item_id, type)] per page, read from the YAML through the real model."""
    from surveyapp.questionnaire import load_file

    q = load_file(QUESTIONNAIRE)
    return [[(item.id, item.type) for item in section.items] for section in q.sections]


def page_form(respondent: int, page: int, items: list[tuple[str, str]]) -> dict:
    """The answers respondent r gives on a page: deterministic, so the database can be checked."""
    form = {}
    for n, (item_id, kind) in enumerate(items):
        seed = respondent * 31 + page * 7 + n
        if kind == "scale":
            form[item_id] = "9" if seed % 11 == 0 else str(1 + seed % 5)
        elif kind == "multiple":
            form[item_id] = sorted({str(1 + seed % 4), str(1 + (seed // 4) % 4)})
        else:
            form[item_id] = f"svar {respondent}-{page} æøå"
    return form


def page_body(csrf: str, respondent: int, page: int, items: list[tuple[str, str]]) -> bytes:
    """The urlencoded POST of respondent r's answers on a page ("next"), with the CSRF token."""
    body = [("csrf_token", csrf), ("action", "next")]
    for key, value in page_form(respondent, page, items).items():
        if isinstance(value, list):
            body.extend((key, v) for v in value)
        else:
            body.append((key, value))
    return urllib.parse.urlencode(body).encode()


def stored_form(form: dict, items: list[tuple[str, str]]) -> dict:
    """What the answers table must hold for a form: {item_id: (value_num, value_text)}."""
    expected = {}
    for item_id, kind in items:
        value = form[item_id]
        if kind == "scale":
            expected[item_id] = (float(value), None)
        elif kind == "multiple":
            expected[item_id] = (None, json.dumps(sorted(int(v) for v in value)))
        else:
            expected[item_id] = (None, value)
    return expected


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`surveyapp serve` as a subprocess in its own process group (so SIGKILL takes every worker)."""

    def __init__(self, db_path: Path, workers: int = 2, threads: int = 4, port: int | None = None,
                 secret: str = SECRET, log: Path | None = None, extra_env: dict | None = None,
                 extra_args: tuple = ()):
        self.db_path, self.workers, self.threads = Path(db_path), workers, threads
        self.port = port or free_port()
        self.secret, self.log = secret, log
        self.extra_env = extra_env or {}
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Server":
        env = {**os.environ, "SURVEYAPP_SECRET_KEY": self.secret, "SURVEYAPP_BASE_URL": f"http://127.0.0.1:{self.port}",
               **self.extra_env}
        env.pop("SURVEYAPP_DB", None)
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [*SURVEYAPP_COMMAND, "--db", str(self.db_path), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers), "--threads", str(self.threads), *self.extra_args],
            stdout=out, stderr=out, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode} (log: {self.log})")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not answer /healthz within {timeout} s")

    def kill(self) -> None:
        """SIGKILL to the whole process group: master and workers die at once, like a power cut."""
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def process_tree_cpu(root_pid: int) -> float | None:
    """CPU seconds (user + system) used so far by a process and its children (the server's master
    and workers), read from /proc; None where there is no /proc."""
    if not os.path.isdir("/proc"):
        return None
    ticks, total = os.sysconf("SC_CLK_TCK"), 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root_pid or int(fields[1]) == root_pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


# ---------------------------------------------------------------------------- the clients


@dataclass
class Stats:
    """Latencies and outcomes, per request kind; shared by the client threads."""

    latencies: dict = field(default_factory=dict)  # kind -> [seconds]
    statuses: dict = field(default_factory=dict)   # kind -> {status: count}
    errors: list = field(default_factory=list)     # (kind, reason)
    acknowledged: list = field(default_factory=list)   # (respondent, page) the server confirmed
    attempted: list = field(default_factory=list)      # (respondent, page) sent at all
    submitted: list = field(default_factory=list)      # respondents whose submit was confirmed
    completed_respondents: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, status: int | None, ok: bool, reason: str = "") -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.statuses.setdefault(kind, {})
            self.statuses[kind][status] = self.statuses[kind].get(status, 0) + 1
            if not ok:
                self.errors.append((kind, reason or f"HTTP {status}"))

    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]

    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


class Client:
    """One keep-alive HTTP connection with a cookie jar (the session cookie carries the CSRF secret)."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                # A kept-alive connection the server closed between requests: retry once on a new one,
                # but never re-send a POST (that could save twice without us knowing).
                self.close()
                if attempt == 2 or method != "GET":
                    raise error
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                self.cookies[key.strip()] = val.strip()
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _timed(stats: Stats, client: Client, kind: str, method: str, path: str, body: bytes | None = None,
           expect: tuple = (200, 302, 303)) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    started = time.perf_counter()
    try:
        status, headers_out, data = client.request(method, path, body, headers)
    except (OSError, http.client.HTTPException) as error:
        stats.add(kind, time.perf_counter() - started, None, False, f"{type(error).__name__}: {error}")
        client.close()
        raise
    stats.add(kind, time.perf_counter() - started, status, status in expect)
    return status, headers_out, data


class Abort(Exception):
    pass


def respond(port: int, respondent: int, token: str, pages: list, stats: Stats, think: float = 0.0,
            deadline: float = float("inf"), rng: random.Random | None = None, stop: threading.Event | None = None) -> bool:
    """One respondent: open the link, answer every page, review, submit. Returns True if submitted."""
    client = Client(port)
    rng = rng or random.Random(respondent)

    def pause():
        if stop is not None and stop.is_set():
            raise Abort()
        if time.monotonic() > deadline:
            raise Abort()
        if think:
            time.sleep(rng.uniform(0, 2 * think))

    def csrf_of(data: bytes) -> str:
        match = CSRF_RE_BYTES.search(data)
        if not match:
            raise Abort()
        return match.group(1).decode("ascii")

    try:
        if think:  # people do not all click their link in the same millisecond
            time.sleep(rng.uniform(0, 2 * think))
        status, headers, _ = _timed(stats, client, "open link", "GET", f"/s/{token}")
        location = urllib.parse.urlsplit(headers.get("location", "")).path
        if status != 302 or not location:
            return False
        for index, items in enumerate(pages):
            pause()
            status, headers, data = _timed(stats, client, "get page", "GET", f"/s/{token}/{index + 1}")
            if status != 200:
                return False
            body = page_body(csrf_of(data), respondent, index, items)
            pause()
            with stats.lock:
                stats.attempted.append((respondent, index))
            status, _, _ = _timed(stats, client, "save page", "POST", f"/s/{token}/{index + 1}", body)
            if not 200 <= status < 400:
                return False
            with stats.lock:
                stats.acknowledged.append((respondent, index))
        pause()
        status, _, data = _timed(stats, client, "review", "GET", f"/s/{token}/review")
        if status != 200:
            return False
        pause()
        status, headers, _ = _timed(stats, client, "submit", "POST", f"/s/{token}/submit",
                                    urllib.parse.urlencode({"csrf_token": csrf_of(data)}).encode())
        if not 200 <= status < 400:
            return False
        with stats.lock:
            stats.submitted.append(respondent)
        _timed(stats, client, "done", "GET", urllib.parse.urlsplit(headers.get("location", f"/s/{token}/done")).path)
        with stats.lock:
            stats.completed_respondents += 1
        return True
    except (Abort, OSError, http.client.HTTPException):
        return False
    finally:
        client.close()


def _run_clients(worker, count: int, seconds: float) -> float:
    """Run `worker` in `count` client threads; wait for them (at most `seconds` + 60 s each) and
    return the seconds they took."""
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return time.perf_counter() - started


def run_respondents(port: int, tokens: list[str], concurrency: int, duration: float, think: float = 0.0,
                    stop: threading.Event | None = None, stats: Stats | None = None, first: int = 0) -> tuple[Stats, float]:
    """Every respondent once, `concurrency` at a time, until done or `duration` seconds passed.
    Pass `stats` to watch the counts while it runs (the fault tests do); `first` is the number of
    the first respondent in `tokens`."""
    pages = questionnaire_pages()
    stats = stats if stats is not None else Stats()
    queue = [(first + i, token) for i, token in enumerate(tokens)]
    queue_lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker():
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            with queue_lock:
                if not queue:
                    return
                respondent, token = queue.pop(0)
            respond(port, respondent, token, pages, stats, think, deadline, stop=stop)

    return stats, _run_clients(worker, concurrency, duration)


def run_baseline(port: int, concurrency: int, seconds: float, path: str = "/healthz",
                 stats: Stats | None = None) -> tuple[Stats, float]:
    """`concurrency` clients requesting the trivial endpoint back to back for `seconds`."""
    stats = stats if stats is not None else Stats()
    deadline = time.monotonic() + seconds

    def worker():
        client = Client(port)
        while time.monotonic() < deadline:
            try:
                _timed(stats, client, "healthz", "GET", path, expect=(200,))
            except (OSError, http.client.HTTPException):
                pass
        client.close()

    return stats, _run_clients(worker, concurrency, seconds)


def run_saves(port: int, tokens: list[str], seconds: float, first: int = 0,
              stats: Stats | None = None) -> tuple[Stats, float]:
    """Save-only: one client per token (so len(tokens) at a time), each holding the form of its
    questionnaire (it GETs page 1 once, untimed, for the session cookie and the CSRF token, which
    is valid for every page of the session), then POSTs pages 1..5 in turn, back to back, for
    `seconds`, without following the redirect. Every POST is a complete, validated page save
    (all 6 items); repeating a page stores the same values again (one row per item)."""
    pages = questionnaire_pages()
    stats = stats if stats is not None else Stats()
    deadline = [float("inf")]
    ready, go = threading.Barrier(len(tokens) + 1), threading.Event()

    def worker(respondent: int, token: str):
        client = Client(port)
        bodies = None
        try:
            status, _, data = client.request("GET", f"/s/{token}/1")
            match = CSRF_RE_BYTES.search(data) if status == 200 else None
            if match:
                csrf = match.group(1).decode("ascii")
                bodies = [page_body(csrf, respondent, index, items) for index, items in enumerate(pages)]
        except (OSError, http.client.HTTPException):
            bodies = None
        finally:
            ready.wait()
        go.wait()
        if bodies is None:
            stats.add("save only", 0.0, None, False, "could not open the form")
            return
        n = 0
        try:
            while time.monotonic() < deadline[0]:
                index = n % len(pages)
                with stats.lock:
                    stats.attempted.append((respondent, index))
                status, _, _ = _timed(stats, client, "save only", "POST", f"/s/{token}/{index + 1}", bodies[index])
                if 200 <= status < 400:
                    with stats.lock:
                        stats.acknowledged.append((respondent, index))
                n += 1
        except (OSError, http.client.HTTPException):
            pass
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(first + i, token), daemon=True) for i, token in enumerate(tokens)]
    for t in threads:
        t.start()
    ready.wait()  # every client holds its form: only the saves are timed
    started = time.perf_counter()
    deadline[0] = time.monotonic() + seconds
    go.set()
    for t in threads:
        t.join(seconds + 60)
    return stats, time.perf_counter() - started


# ---------------------------------------------------------------------------- the check


def verify(db_path: Path, prepared: dict, acknowledged, attempted=()) -> dict:
    """Compare the answers table with what the clients were told was saved.

    lost: acknowledged page saves missing or with other values; duplicated: (response, item)
    stored more than once; half_written: pages with some but not all of their items;
    unacknowledged_stored: pages sent without an acknowledgement (in flight at a crash) that
    were stored whole, which is allowed.
    """
    pages = questionnaire_pages()
    conn = sqlite3.connect(str(db_path))
    conn.row_factory = sqlite3.Row
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    by_invitation = {r["invitation_id"]: r["id"] for r in conn.execute(
        "SELECT id, invitation_id FROM responses WHERE round_id = ?", (prepared["round_id"],))}
    rows: dict = {}
    for r in conn.execute("SELECT response_id, item_id, value_num, value_text FROM answers"):
        rows[(r["response_id"], r["item_id"])] = (r["value_num"], r["value_text"])
    duplicated = conn.execute("SELECT COUNT(*) FROM (SELECT response_id, item_id FROM answers "
                              "GROUP BY response_id, item_id HAVING COUNT(*) > 1)").fetchone()[0]
    conn.close()
    acknowledged, attempted = set(acknowledged), set(attempted) | set(acknowledged)
    lost, wrong = [], []
    for respondent, page in sorted(acknowledged):
        response_id = by_invitation.get(prepared["invitations"][respondent])
        expected = stored_form(page_form(respondent, page, pages[page]), pages[page])
        for item_id, value in expected.items():
            got = rows.get((response_id, item_id))
            if got is None:
                lost.append((respondent, page, item_id))
            elif got != value:
                wrong.append((respondent, page, item_id, got, value))
    half, unacknowledged_stored, unexpected = [], 0, []
    response_to_respondent = {by_invitation[iid]: r for r, iid in enumerate(prepared["invitations"]) if iid in by_invitation}
    for response_id, respondent in response_to_respondent.items():
        for page, items in enumerate(pages):
            present = [item_id for item_id, _ in items if (response_id, item_id) in rows]
            if present and len(present) != len(items):
                half.append((respondent, page, present))
            if present and (respondent, page) not in acknowledged:
                if (respondent, page) in attempted:
                    unacknowledged_stored += 1
                else:
                    unexpected.append((respondent, page))
    answer_rows = len(rows)
    return {"integrity": integrity, "acknowledged_pages": len(acknowledged), "answer_rows": answer_rows,
            "lost": len(lost) + len(wrong), "lost_detail": (lost + wrong)[:10], "duplicated": duplicated,
            "half_written": len(half), "half_detail": half[:10], "unacknowledged_stored": unacknowledged_stored,
            "stored_without_request": len(unexpected)}


# ---------------------------------------------------------------------------- reporting


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_line(name: str, values: list[float], seconds: float) -> str:
    ms = [v * 1000 for v in values]
    return (f"{name:<12} {len(values):>7} req  {len(values) / seconds:>8.1f} req/s  p50 {percentile(ms, 50):>7.1f} ms  "
            f"p95 {percentile(ms, 95):>7.1f} ms  p99 {percentile(ms, 99):>7.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--respondents", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None, help="default: as `surveyapp serve` (2)")
    parser.add_argument("--threads", type=int, default=None, help="default: as `surveyapp serve` (4)")
    parser.add_argument("--duration", type=float, default=120.0, help="upper bound of the answering phase, seconds")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--save-seconds", type=float, default=10.0,
                        help="length of the save-only phase (0: skip it), seconds, spread over the slices")
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between a respondent's requests, seconds")
    parser.add_argument("--slices", type=int, default=4,
                        help="alternate baseline and answering this many times (evens out background load)")
    parser.add_argument("--keep", help="keep the database and server log in this folder")
    args = parser.parse_args(argv)
    from surveyapp.cli.ops import DEFAULT_THREADS, DEFAULT_WORKERS

    args.workers = args.workers or DEFAULT_WORKERS
    args.threads = args.threads or DEFAULT_THREADS

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="surveyapp-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    # Not measured: each worker's first requests fill its own caches (parsed questionnaire versions, the
    # throttle's copy of the blocks); the templates are compiled by `serve` before the workers fork.
    warm = 4 * args.workers
    savers = args.concurrency if args.save_seconds > 0 else 0  # the save-only clients' own respondents
    prepared = prepare(db_path, args.respondents + warm + savers)
    server = Server(db_path, args.workers, args.threads, log=folder / "server.log").start()
    warm_stats, _ = run_respondents(server.port, prepared["tokens"][args.respondents:args.respondents + warm],
                                    min(warm, args.concurrency), 60, first=args.respondents)
    save_tokens, save_first = prepared["tokens"][args.respondents + warm:], args.respondents + warm
    print(f"server: surveyapp serve --workers {args.workers} --threads {args.threads} on port {server.port}; "
          f"{args.respondents} respondents, {args.concurrency} concurrent, think {args.think} s; {os.cpu_count()} CPU(s)")
    try:
        # The phases alternate in slices, so both see the same background load on a shared machine.
        base_stats, stats, save_stats = Stats(), Stats(), Stats()
        base_seconds = seconds = save_seconds = 0.0
        slices = max(1, args.slices)
        chunk = -(-args.respondents // slices)
        deadline = time.monotonic() + args.duration
        cpu = {"baseline": [0.0, 0.0], "answering": [0.0, 0.0], "save only": [0.0, 0.0]}  # phase -> [server, client] CPU seconds

        def measured(phase, run):
            server_before, client_before = process_tree_cpu(server.process.pid), own_cpu()
            took = run()
            server_after = process_tree_cpu(server.process.pid)
            if server_before is not None and server_after is not None:
                cpu[phase][0] += server_after - server_before
            cpu[phase][1] += own_cpu() - client_before
            return took

        for n in range(slices):
            base_seconds += measured("baseline", lambda: run_baseline(
                server.port, args.concurrency, args.baseline_seconds / slices, stats=base_stats)[1])
            if savers:
                save_seconds += measured("save only", lambda: run_saves(
                    server.port, save_tokens, args.save_seconds / slices, first=save_first, stats=save_stats)[1])
            left = deadline - time.monotonic()
            if left <= 0:
                break
            part = prepared["tokens"][n * chunk:min((n + 1) * chunk, args.respondents)]
            seconds += measured("answering", lambda: run_respondents(
                server.port, part, args.concurrency, left, args.think, stats=stats, first=n * chunk)[1])
    finally:
        server.stop()
    base_rps = base_stats.requests() / base_seconds
    saves = stats.latencies.get("save page", [])
    print()
    print(f"baseline GET /healthz, {args.concurrency} clients, {base_seconds:.1f} s in {slices} slice(s)")
    print("  " + summary_line("healthz", base_stats.all_latencies(), base_seconds)
          + f"  errors {len(base_stats.errors)}")
    print(f"answering, {seconds:.1f} s in {slices} slice(s): {stats.completed_respondents} of {args.respondents} "
          f"respondents submitted")
    for kind in ("open link", "get page", "save page", "review", "submit", "done"):
        if stats.latencies.get(kind):
            print("  " + summary_line(kind, stats.latencies[kind], seconds))
    print("  " + summary_line("all", stats.all_latencies(), seconds) + f"  errors {len(stats.errors)}")
    if stats.errors:
        print(f"  first errors: {stats.errors[:5]}")
    save_only = save_stats.latencies.get("save only", [])
    if savers:
        print(f"save only, {save_seconds:.1f} s in {slices} slice(s): {savers} clients, each holding its form, "
              f"POST pages 1-5 in turn back to back (redirects not followed)")
        print("  " + summary_line("save only", save_only, save_seconds) + f"  errors {len(save_stats.errors)}")
        if save_stats.errors:
            print(f"  first errors: {save_stats.errors[:5]}")
    all_rps = stats.requests() / seconds
    print()
    for phase, count in (("baseline", base_stats.requests()), ("answering", stats.requests()),
                         ("save only", save_stats.requests())):
        if not count:
            continue
        server_cpu, client_cpu = cpu[phase]
        print(f"CPU per request, {phase}: server {1000 * server_cpu / max(count, 1):.2f} ms, "
              f"load generator {1000 * client_cpu / max(count, 1):.2f} ms")
    print("a page save = one POST /s/<token>/<n> with all 6 items of the page, counted when the server "
          "acknowledges it (2xx/3xx; normally 302 to the next page). The GET of the page before it (the form "
          "and its CSRF token) is counted as 'get page'. A respondent makes 14 requests for 5 saves, so page "
          f"saves/s can reach at most {100 * 5 / 14:.0f} % of the baseline even if every request cost what "
          "/healthz costs.")
    print(f"page saves/s {len(saves) / seconds:.1f}; answering requests/s {all_rps:.1f}; baseline requests/s {base_rps:.1f}")
    print(f"ratio page saves/s to baseline: {100 * len(saves) / seconds / base_rps:.1f} %  "
          f"(answering requests/s to baseline: {100 * all_rps / base_rps:.1f} %; target >= 40 %)")
    print(f"p95 of a page save at {args.concurrency} concurrent: {percentile([s * 1000 for s in saves], 95):.1f} ms "
          f"(target < 100 ms)")
    if savers:
        save_rps = len(save_only) / save_seconds
        print(f"SAVE-ONLY (the figure compared with the targets): page saves/s {save_rps:.1f} = "
              f"{100 * save_rps / base_rps:.1f} % of the baseline (target >= 40 %); p95 of a save at {savers} concurrent "
              f"{percentile([s * 1000 for s in save_only], 95):.1f} ms (target < 100 ms)")
    check = verify(db_path, prepared, stats.acknowledged + warm_stats.acknowledged + save_stats.acknowledged,
                   stats.attempted + warm_stats.attempted + save_stats.attempted)
    print(f"database: {check['acknowledged_pages']} acknowledged page saves, {check['answer_rows']} answer rows, "
          f"lost {check['lost']}, duplicated {check['duplicated']}, half-written pages {check['half_written']}, "
          f"integrity_check {check['integrity']}")
    if args.keep:
        print(f"kept in {folder}")
    ok = check["lost"] == 0 and check["duplicated"] == 0 and check["half_written"] == 0 and check["integrity"] == "ok"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
