"""Bad input, generated with hypothesis (bounded: 50-80 examples per property, no deadline).

- random and mutated YAML into the questionnaire loader: a Questionnaire or a QuestionnaireError
  with FILE:LINE problems, never another exception;
- random form posts into the answer pages: never a 500; a refused post (4xx) says why and stores
  nothing; an accepted one stores only valid values;
- random CSV and XLSX rows into both importers: with a bad row among them the file is refused as
  a whole, the bad row's line is named, and the database is unchanged;
- oversized bodies over real HTTP get 413 (the in-process cases are in test_security_ops.py).
"""
from __future__ import annotations

import csv
import io
import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reliability_support import BENCH_QUESTIONNAIRE, ROOT, make_round, person
from surveyapp import questionnaire as qmodel
from surveyapp.errors import ImportRejected
from surveyapp.respondents import import_respondents
from surveyapp.responses import import_responses

# FUZZ_EXAMPLES=2000 FUZZ_RANDOM=1 runs a longer, fresh search; the suite runs a fixed 60 per property.
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None,
                    derandomize=not os.environ.get("FUZZ_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])
SOURCES = [BENCH_QUESTIONNAIRE] + sorted((ROOT / "questionnaires").glob("*.yaml"))
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SOURCES}
safe_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


def check_parse(text: str, name: str = "fuzz.yaml") -> None:
    try:
        q = qmodel.parse(text, name)
    except qmodel.QuestionnaireError as error:
        event("refused")
        assert error.problems, "an error with no problems listed"
        for problem in error.problems:
            assert problem.file == name and problem.line >= 1 and problem.message.strip()
            assert problem.line <= max(1, text.count("\n") + 2)
    else:
        event("accepted")
        assert isinstance(q, qmodel.Questionnaire) and q.sections


# ------------------------------------------------------------------------------------ YAML


@SETTINGS
@given(st.text(max_size=400))
def test_random_text_is_a_clean_questionnaire_error(text):
    check_parse(text)


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(TEXTS)))
    lines = TEXTS[name].split("\n")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "replace_value", "insert", "swap", "truncate"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "replace_value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            value = draw(st.one_of(st.sampled_from(["", "[]", "{}", "null", "-1", "0", "1e9", "true", "[1, 2", "'x",
                                                    "{code: x}", "*anchor", "&a [1]", "grad9", "!!python/object x"]),
                                   safe_text.map(json.dumps)))
            lines[i] = f"{key}: {value}"
        elif op == "insert":
            lines.insert(i, draw(safe_text))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "truncate":
            lines = lines[:i]
        if not lines:
            lines = [""]
    return "\n".join(lines)


@SETTINGS
@given(mutated())
def test_mutated_questionnaires_are_clean_questionnaire_errors(text):
    check_parse(text)


KEYS = ["id", "title", "language", "personal", "kind", "scales", "options", "missing", "code", "label", "sections",
        "items", "text", "type", "scale", "required", "show_if", "item", "equals", "in", "answered", "groups",
        "indices", "scores", "min", "max", "reverse", "version", "construct", "method", "multiplier", "thresholds",
        "green", "yellow", "cutoffs", "value", "max_length", "reverse_max", "min_share", "targets"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 12), st.floats(allow_nan=True), st.sampled_from(
    ["grad5", "scale", "single", "multiple", "number", "text", "date", "info", "a", "s1", "q", "sum", "mean"]), safe_text)
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.sampled_from(KEYS), children, max_size=6)), max_leaves=40)


@st.composite
def near_valid(draw):
    """A valid questionnaire with parts replaced by random structures: reaches the cross-reference checks."""
    base = yaml.safe_load(TEXTS["questionnaire-30.yaml"])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([("scales", "grad5"), ("sections", 0), ("sections", 1, "items", 0),
                                     ("sections", 2, "items", 4), ("sections", 0, "items", 1, "show_if"),
                                     ("indices",), ("scores",), ("scales", "grad5", "options", 0)]))
        target = base
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(documents)
        except (KeyError, IndexError, TypeError):
            if isinstance(base, dict):
                base[draw(st.sampled_from(KEYS))] = draw(documents)
    return yaml.safe_dump(base, allow_unicode=True, sort_keys=False)


@SETTINGS
@given(st.one_of(documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)), near_valid()))
def test_random_structures_are_clean_questionnaire_errors(text):
    check_parse(text)


@SETTINGS
@given(st.one_of(st.binary(max_size=600), st.sampled_from(sorted(TEXTS)).flatmap(
    lambda name: st.sampled_from([TEXTS[name].encode("utf-16"), TEXTS[name].encode("cp1252", "replace"),
                                  b"\xef\xbb\xbf" + TEXTS[name].encode(), TEXTS[name].encode()[:-7] + b"\xff\xfe"]))))
def test_random_files_are_clean_questionnaire_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("yaml") / "fil.yaml"
    path.write_bytes(data)
    try:
        qmodel.load_file(path)
    except qmodel.QuestionnaireError as error:
        assert all(p.file == str(path) and p.line >= 1 and p.message for p in error.problems)


# ------------------------------------------------------------------------------------ answer pages


ITEM_IDS = [f"{p}_{s}" for p in ("samarbejde", "viden", "ledelse", "metoder", "resultater")
            for s in ("1", "2", "3", "4", "valg", "kommentar")]
values = st.one_of(
    st.sampled_from(["1", "2", "3", "4", "5", "9", "0", "6", "-1", "1.5", "1e309", "nan", " 3 ", "Slet ikke",
                     "I HØJ GRAD", "Ved ikke", "", "next", "back", "1,2", "[1]", "null"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=700),
    st.lists(st.sampled_from(["1", "2", "3", "4", "5", "x", ""]), max_size=5))
PAGES = ["samarbejde", "viden", "ledelse", "metoder", "resultater"]


@st.composite
def page_posts(draw):
    """(page number, form): keys mostly the page's own items, values often not valid for them."""
    number = draw(st.sampled_from([1, 2, 3, 4, 5] * 3 + [0, 6, 99]))
    own = [f"{PAGES[number - 1]}_{s}" for s in ("1", "2", "3", "4", "valg", "kommentar")] if 1 <= number <= 5 else ITEM_IDS
    keys = st.one_of(st.sampled_from(own), st.sampled_from(own), st.sampled_from(ITEM_IDS + ["action", "csrf_token"]), safe_text)
    return number, draw(st.dictionaries(keys, values, max_size=10))


def answers_of(db):
    return sorted(tuple(r) for r in db.execute("SELECT response_id, item_id, value_num, value_text FROM answers"))


def assert_only_valid_values(db):
    for _, item_id, num, text in answers_of(db):
        kind = item_id.rsplit("_", 1)[1]
        if kind == "valg":
            assert num is None and set(json.loads(text)) <= {1, 2, 3, 4} and json.loads(text)
        elif kind == "kommentar":
            assert num is None and 0 < len(text) <= 500
        else:
            assert num in (1, 2, 3, 4, 5, 9) and text is None


@pytest.fixture
def answer_round(db, secret):
    return make_round(db, secret, [person(i) for i in range(3)])


@SETTINGS
@given(post=page_posts(), autosave=st.booleans())
def test_random_form_posts_never_500_and_refusals_store_nothing(client, db, answer_round, post, autosave):
    number, form = post
    token = answer_round["tokens"]["emp0000"]
    before = answers_of(db)
    headers = {"X-Autosave": "1"} if autosave else {}
    response = client.post(f"/s/{token}/{number}", data=form, headers=headers)
    event(f"status {response.status_code}")
    assert response.status_code < 500
    body = response.get_data(as_text=True)
    if response.status_code >= 400:
        assert answers_of(db) == before
        if response.status_code == 422 and not autosave:
            assert 'class="error-message"' in body
        elif response.status_code == 422:
            assert json.loads(body)["errors"]
        else:
            assert "<h1" in body or json.loads(body)
    assert_only_valid_values(db)


@SETTINGS
@given(body=st.binary(max_size=2000), content_type=st.sampled_from([
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "multipart/form-data",
    "application/json", "text/plain", "application/x-www-form-urlencoded; charset=latin-1"]))
def test_random_raw_bodies_never_500(client, db, answer_round, body, content_type):
    token = answer_round["tokens"]["emp0001"]
    before = answers_of(db)
    response = client.post(f"/s/{token}/2", data=body, content_type=content_type)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert answers_of(db) == before
    assert_only_valid_values(db)


# ------------------------------------------------------------------------------------ importers


cell = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
EXTRA_COLUMNS = ["afdeling", "stilling", "anciennitet"]


def snapshot(db) -> dict:
    return {t: sorted(tuple(r) for r in db.execute(f"SELECT * FROM {t}"))
            for t in ("people", "invitations", "responses", "answers", "audit_log")}


def write_file(kind: str, header: list[str], rows: list[list[str]]) -> tuple[bytes, str]:
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8"), "fuzz.csv"
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), "fuzz.xlsx"


def assert_rejected_whole(db, call, bad_line: int, before: dict) -> None:
    with pytest.raises(ImportRejected) as caught:
        call()
    lines = {e.line for e in caught.value.errors}
    assert bad_line in lines, (bad_line, [str(e) for e in caught.value.errors])
    for error in caught.value.errors:
        assert error.line >= 1 and error.reason.strip() and str(error).startswith(f"line {error.line}")
    assert snapshot(db) == before


respondent_row = st.fixed_dictionaries({
    "key": st.one_of(st.sampled_from(["a1", "b2", "c3", ""]), cell), "email": st.one_of(st.just(""), cell,
                                                                                        st.just("x@y.dk")),
    "name": cell, "group": st.one_of(st.just(""), cell), "unit": cell,
    "language": st.sampled_from(["", "da", "en", "de", "DA"]), "afdeling": cell})


@SETTINGS
@given(kind=st.sampled_from(["csv", "xlsx"]), rows=st.lists(respondent_row, max_size=12), position=st.integers(0, 12))
def test_random_respondent_lists_with_a_bad_row_are_refused_whole(db, secret, answer_round, kind, rows, position):
    header = ["key", "email", "name", "group", "unit", "language", "afdeling"]
    bad = {"key": "bad-row", "email": "ikke-en-adresse", "name": "X", "group": "", "unit": "U", "language": "", "afdeling": ""}
    position = min(position, len(rows))
    rows = rows[:position] + [bad] + rows[position:]
    data, name = write_file(kind, header, [[r[h] for h in header] for r in rows])
    before = snapshot(db)
    assert_rejected_whole(db, lambda: import_respondents(db, answer_round["round_id"], secret=secret, data=data,
                                                         filename=name), position + 2, before)


answer_row = st.fixed_dictionaries({
    "key": st.sampled_from(["emp0000", "emp0001", "emp0002", "nobody", ""]),
    "status": st.sampled_from(["", "complete", "partial", "done"]),
    "submitted_at": st.sampled_from(["", "2014-09-03", "2014-09-03T10:00:00", "03-09-2014", "i går"]),
    "samarbejde_1": st.one_of(st.sampled_from(["", "1", "5", "9", "6", "I høj grad", "x"]), cell),
    "samarbejde_valg": st.sampled_from(["", "1", "1,3", "2,9", "Møder", "[1]"]),
    "samarbejde_kommentar": cell})


@SETTINGS
@given(kind=st.sampled_from(["csv", "xlsx"]), rows=st.lists(answer_row, max_size=8), position=st.integers(0, 8))
def test_random_response_imports_with_a_bad_row_are_refused_whole(db, answer_round, kind, rows, position):
    header = ["key", "status", "submitted_at", "samarbejde_1", "samarbejde_valg", "samarbejde_kommentar"]
    bad = {"key": "emp0001", "status": "complete", "submitted_at": "", "samarbejde_1": "7", "samarbejde_valg": "",
           "samarbejde_kommentar": ""}
    position = min(position, len(rows))
    rows = rows[:position] + [bad] + rows[position:]
    data, name = write_file(kind, header, [[r[h] for h in header] for r in rows])
    before = snapshot(db)
    assert_rejected_whole(db, lambda: import_responses(db, answer_round["round_id"], data=data, filename=name),
                          position + 2, before)


@SETTINGS
@given(data=st.one_of(st.binary(max_size=3000), st.binary(max_size=3000).map(lambda b: b"PK\x03\x04" + b)),
       name=st.sampled_from(["liste.csv", "liste.xlsx", "liste.txt"]))
def test_garbage_files_are_refused_or_imported_never_crash(db, secret, answer_round, data, name):
    before = snapshot(db)
    for call in (lambda: import_respondents(db, answer_round["round_id"], secret=secret, data=data, filename=name),
                 lambda: import_responses(db, answer_round["round_id"], data=data, filename=name)):
        try:
            call()
        except ImportRejected as error:
            assert error.errors and all(e.line >= 1 for e in error.errors)
            assert snapshot(db) == before
        else:
            before = snapshot(db)


# ------------------------------------------------------------------------------------ 413 over HTTP


def test_oversized_bodies_over_real_http_get_413(bench, tmp_path):
    db_path = tmp_path / "big.db"
    prepared = bench.prepare(db_path, 2)
    server = bench.Server(db_path, workers=2, threads=2, log=tmp_path / "server.log").start()
    try:
        token = prepared["tokens"][0]
        client = bench.Client(server.port)
        status, _, _ = client.request("GET", f"/s/{token}/1")
        assert status == 200
        big = b"csrf_token=x&samarbejde_kommentar=" + b"x" * (6 * 1024 * 1024)
        status, _, body = client.request("POST", f"/s/{token}/1", big, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 413 and "for stor".encode() in body
        client.close()
        # A client that only announces a huge body is refused without the server reading it.
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.putrequest("POST", f"/s/{token}/1")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(500 * 1024 * 1024))
        conn.endheaders()
        conn.send(b"a=1")
        assert conn.getresponse().status == 413
        conn.close()
        assert bench.Client(server.port).request("GET", "/healthz")[0] == 200
    finally:
        server.stop()
    check = bench.verify(db_path, prepared, [])
    assert check["answer_rows"] == 0 and check["integrity"] == "ok"
