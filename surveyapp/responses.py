"""Saving answers: page saves, submission, registration on someone's behalf, and imports.

Every page save is one transaction. A save that has any problem stores nothing, so the page
can be shown again with the respondent's input and the reasons next to the items.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import secrets
from collections.abc import Callable, Collection
from pathlib import Path

from . import audit, tokens
from .db import now, transaction
from .errors import Conflict, ImportRejected, NotFound, RowError, SurveyError
from .questionnaire import AnswerError, Questionnaire, decode_answer, parse_answer
from .questionnaire_store import get_version
from .rounds import get_round, round_questionnaires, version_for_group
from .tabular import read_table

REGISTRATION_MODES = ("in_person", "phone", "self_completion")


class PageInvalid(SurveyError):
    """A page save with problems; `errors` maps item id to the message shown beside it."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _stamp(round_: dict) -> str:
    # Anonymous rounds keep only the date, so the order of answering cannot identify anyone.
    return now()[:10] if round_["anonymous"] else now()  # the UTC date, like every other stamp


def find_response(db, secret: str, token: str, invitation: dict) -> dict | None:
    if invitation["anonymous"]:
        row = db.execute("SELECT * FROM responses WHERE anonymous_key = ?", (tokens.anonymous_key(secret, token),)).fetchone()
    else:
        row = db.execute("SELECT * FROM responses WHERE invitation_id = ?", (invitation["id"],)).fetchone()
    return dict(row) if row else None


def start_response(db, secret: str, token: str, invitation: dict) -> dict:
    """The respondent's response, created on first use. Two tabs opening the same link at once
    get the same row: the unique key on invitation (or anonymous key) decides."""
    existing = find_response(db, secret, token, invitation)
    if existing:
        return existing
    round_ = {"id": invitation["round_id"], "anonymous": invitation["anonymous"]}  # as find_invitation read it
    version_id = version_for_group(db, round_["id"], invitation["group_name"])
    anonymous = bool(round_["anonymous"])
    for _attempt in range(3):
        # Anonymous responses get a random id: sequential ids would keep the order in which
        # people started, which the coarse timestamps are there to hide. (Below 2**52, so the
        # ids stay exact in JavaScript and leave room for the sequential ids after them.)
        response_id = secrets.randbelow(2**52 - 1) + 1 if anonymous else None
        with transaction(db):
            db.execute(
                "INSERT INTO responses (id, round_id, invitation_id, anonymous_key, group_name, unit, questionnaire_version_id, "
                "status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'started', ?) ON CONFLICT DO NOTHING",
                (response_id, round_["id"], None if anonymous else invitation["id"],
                 tokens.anonymous_key(secret, token) if anonymous else None,
                 invitation["group_name"], invitation["unit"], version_id, _stamp(round_)),
            )
        found = find_response(db, secret, token, invitation)
        if found:
            return found
    raise SurveyError("could not start the response; please try again")  # pragma: no cover - a 2**-52 id collision, thrice


def get_response(db, response_id: int) -> dict:
    row = db.execute("SELECT * FROM responses WHERE id = ?", (response_id,)).fetchone()
    if row is None:
        raise NotFound(f"response {response_id} not found")
    return dict(row)


def questionnaire_of(db, response: dict) -> Questionnaire:
    return get_version(db, response["questionnaire_version_id"])


def load_answers(db, response_id: int, q: Questionnaire) -> dict:
    """{item_id: value} as the form and show_if use them (codes as ints, lists for multiple choice)."""
    return _decode_rows(_answer_rows(db, response_id), q)


def _answer_rows(db, response_id: int) -> list[tuple]:
    """The stored answers as (item_id, value_num, value_text) in item order: two reads can be compared."""
    return db.conn.execute("SELECT item_id, value_num, value_text FROM answers WHERE response_id = ? ORDER BY item_id",
                           (response_id,)).fetchall()


def _decode_rows(rows: list[tuple], q: Questionnaire) -> dict:
    answers = {}
    items = q.items_by_id()
    for item_id, value_num, value_text in rows:
        item = items.get(item_id)
        if item is None:  # not an item of this version
            continue
        answers[item_id] = decode_answer(item, value_num, value_text)
    return answers


def not_asked_of(db, response: dict | None = None, invitation_id: int | None = None) -> frozenset[str]:
    """Ids of the items the respondent is not asked (the invitation's not_asked list, written
    e.g. by cases.self_completion_link from the schedule's routing); empty without an invitation."""
    invitation_id = invitation_id or (response or {}).get("invitation_id")
    if invitation_id is None:
        return frozenset()
    row = db.execute("SELECT not_asked FROM invitations WHERE id = ?", (invitation_id,)).fetchone()
    return parse_not_asked(row["not_asked"] if row else None)


def set_not_asked(db, invitation_id: int, item_ids) -> None:
    """Record the items this invitation's respondent is not asked (replacing any earlier list)."""
    db.execute("UPDATE invitations SET not_asked = ? WHERE id = ?",
               (json.dumps(sorted(set(item_ids)), ensure_ascii=False), invitation_id))


def parse_not_asked(text: str | None) -> frozenset[str]:
    """The invitations.not_asked column (a JSON list of item ids) as a set."""
    if not text or text == "[]":
        return frozenset()
    value = json.loads(text)
    return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()


def _parse_page(q: Questionnaire, section_index: int, form: dict, current: dict, group: str,
                enforce_required: bool = True, not_asked: Collection[str] = frozenset()) -> tuple[dict, dict, list[str]]:
    """Parse one page's inputs: (values to store, errors, item ids to clear). A posted value for
    a not-asked item is ignored (never stored, never checked, never required)."""
    if not 0 <= section_index < len(q.sections):
        raise SurveyError("no such page")
    section = q.sections[section_index]
    merged = dict(current)
    parsed, errors = {}, {}
    # Items on the page in order, so show_if sees the answers given above it on the same page.
    for item in section.items:
        if item.type == "info":
            continue
        if item.id in not_asked:
            merged[item.id] = None
            continue
        raw = form.get(item.id)
        if item.type != "multiple" and isinstance(raw, list):
            raw = raw[-1] if raw else None
        try:
            value = parse_answer(q, item, raw)
        except AnswerError as error:
            errors[item.id] = str(error)
            merged[item.id] = raw
            continue
        parsed[item.id] = value
        merged[item.id] = None if value is None else decode_answer(item, *value)
    to_store, to_clear = {}, []
    for item in section.items:
        if item.type == "info" or item.id in errors:
            continue
        if not q.is_shown(item, merged, group, not_asked):
            to_clear.append(item.id)
            continue
        value = parsed.get(item.id)
        if value is None:
            to_clear.append(item.id)
            if item.required and enforce_required:
                errors[item.id] = "Besvar venligst dette spørgsmål." if item.type != "multiple" else "Vælg mindst én svarmulighed."
        else:
            to_store[item.id] = value
    # Stored answers on other pages that this page's answers now hide go too (e.g. a changed
    # answer on page 1 that skips page 3), also when a submitted response is edited.
    on_page = {item.id for item in section.items}
    for item in q.question_items():
        if item.show_if is None and not item.groups and item.id not in not_asked:
            continue  # shown to everyone (is_shown's first answer), whatever the answers
        if (item.id not in on_page and current.get(item.id) not in (None, "", [])
                and not q.is_shown(item, merged, group, not_asked)):
            to_clear.append(item.id)
    return to_store, errors, to_clear


def save_page(db, response: dict, section_index: int, form: dict | Callable[[dict], dict], final: bool = False,
              partial: bool = False,
              not_asked: Collection[str] | None = None, *, q: Questionnaire | None = None,
              invitation_started: bool = False) -> dict:
    """Store one page's answers in one transaction; raise PageInvalid (storing nothing) on problems.

    `form` maps item id to a string (or list of strings for multiple choice); it may also be a
    function of the stored answers (as load_answers returns them) that returns that mapping, for
    a form whose meaning depends on what is stored at the moment of the write (the answer pages
    keep a field the respondent left untouched at its stored value). It is called with the
    answers read before the write lock, and once more, inside the lock, if they changed in
    between. Blank fields
    clear a stored answer; answers to items the respondent's answers now hide are removed too.
    `partial` (autosave, the Back button) stores what is valid without demanding required items
    and does not count the page as finished. `not_asked`: the items the respondent is not asked
    (None: read from the response's invitation); a value posted for one is ignored. `q`: the
    response's questionnaire when the caller has it (None: looked up; a version never changes).
    `invitation_started`: the caller has seen the invitation marked started (a flag never
    cleared), so it is not written again.

    Returns {"stored", "cleared", "answers"}: "answers" are the response's answers after the
    save as load_answers would return them (the caller need not read them again).

    What can change between the caller's reads and this write is checked inside the write
    transaction: the response's status, the round's status and the stored answers (another tab
    of the same respondent may have saved in between; the answers decide which items are shown
    and which answers on other pages must go, so they are not taken from the caller). The page
    is parsed before the lock against the answers read then, and parsed again inside it only if
    the stored rows are no longer the same.
    """
    if q is None:
        q = questionnaire_of(db, response)
    if not_asked is None:
        not_asked = not_asked_of(db, response)

    def parse_against(rows: list[tuple]) -> tuple[dict, tuple]:
        current = _decode_rows(rows, q)
        page_form = form(current) if callable(form) else form
        return current, _parse_page(q, section_index, page_form, current, response["group_name"],
                                    enforce_required=not partial, not_asked=not_asked)

    # The page is parsed before the write lock, against the answers stored now, so that the lock
    # is held for SQL only (every writer waits for it). Inside the lock the stored answers are
    # read again; if another tab saved in between, the page is parsed again against them.
    rows = _answer_rows(db, response["id"])
    current, parsed = parse_against(rows)
    with transaction(db):
        status, round_ = _response_state(db, response)
        if status == "complete" and not round_["allow_edit_after_submit"]:
            raise Conflict("the questionnaire has been submitted and can no longer be changed")
        if round_["status"] != "open":
            raise Conflict("the round is not open")
        latest = _answer_rows(db, response["id"])
        if latest != rows:
            current, parsed = parse_against(latest)
        to_store, errors, to_clear = parsed
        if errors:
            raise PageInvalid(errors)
        stamp = _stamp(round_)
        items = q.items_by_id()
        db.conn.executemany(
            "INSERT INTO answers (response_id, item_id, item_version, value_num, value_text, saved_at) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT (response_id, item_id) DO UPDATE SET value_num = excluded.value_num, "
            "value_text = excluded.value_text, item_version = excluded.item_version, saved_at = excluded.saved_at",
            [(response["id"], item_id, items[item_id].version, num, text, stamp) for item_id, (num, text) in to_store.items()],
        )
        if to_clear:
            db.conn.executemany("DELETE FROM answers WHERE response_id = ? AND item_id = ?",
                                [(response["id"], item_id) for item_id in to_clear])
        next_section = section_index if partial else min(section_index + 1, len(q.sections))
        db.execute(
            "UPDATE responses SET last_saved_at = ?, current_section = MAX(current_section, ?) WHERE id = ?",
            (stamp, next_section, response["id"]),
        )
        if not invitation_started:
            _mark_invitation(db, response, started=True)
    after = {**current}
    for item_id in to_clear:
        after.pop(item_id, None)
    for item_id, (num, text) in to_store.items():
        after[item_id] = decode_answer(items[item_id], num, text)
    return {"stored": len(to_store), "cleared": len(to_clear), "answers": after}


def _response_state(db, response: dict) -> tuple[str, dict]:
    """(the response's status, its round's {"status", "allow_edit_after_submit", "anonymous"}) in
    one read, inside the caller's write transaction (so a round closed or a response submitted
    meanwhile is seen)."""
    row = db.conn.execute(
        "SELECT s.status, r.status, r.allow_edit_after_submit, r.anonymous FROM responses s "
        "JOIN rounds r ON r.id = s.round_id WHERE s.id = ?", (response["id"],)).fetchone()
    if row is None:
        raise NotFound(f"response {response['id']} not found")
    return row[0], {"status": row[1], "allow_edit_after_submit": row[2], "anonymous": row[3]}


def _mark_invitation(db, response: dict, started: bool = False, completed: bool = False) -> None:
    invitation_id = response.get("invitation_id") or response.get("_invitation_id")
    if invitation_id is None:
        return
    if started:  # set once: an unchanged row costs the commit no page write
        db.execute("UPDATE invitations SET started = 1 WHERE id = ? AND started = 0", (invitation_id,))
    if completed:
        db.execute("UPDATE invitations SET completed = 1, started = 1 WHERE id = ?", (invitation_id,))


def missing_required(q: Questionnaire, answers: dict, group: str,
                     not_asked: Collection[str] = frozenset()) -> dict[int, list[str]]:
    """Required items without an answer, by section index (items not asked are never missing)."""
    missing: dict[int, list[str]] = {}
    for index, section in enumerate(q.sections):
        for item in section.items:
            if item.required and q.is_shown(item, answers, group, not_asked) and answers.get(item.id) in (None, "", []):
                missing.setdefault(index, []).append(item.id)
    return missing


def submit(db, response: dict, invitation_id: int | None = None, not_asked: Collection[str] | None = None, *,
           q: Questionnaire | None = None) -> dict:
    """Mark a response complete once every required, shown item is answered.

    Raises PageInvalid naming the missing items (the caller sends the respondent to the first
    page concerned). `invitation_id` is passed in anonymous rounds, where the response row
    itself holds no link, so that only the invitation's "completed" flag is set. Items the
    invitation does not ask (`not_asked`, None: read from the invitation) are never required,
    and any answer stored for one is removed. `q`: the response's questionnaire when the caller
    has it (None: looked up). The response's and the round's status and the answers are read
    inside the write transaction.
    """
    if q is None:
        q = questionnaire_of(db, response)
    if not_asked is None:
        not_asked = not_asked_of(db, response, invitation_id)
    with transaction(db):
        status, round_ = _response_state(db, response)
        if status == "complete":
            return get_response(db, response["id"])
        if round_["status"] != "open":
            raise Conflict("the round is not open")
        answers = load_answers(db, response["id"], q)
        missing = missing_required(q, answers, response["group_name"], not_asked)
        if missing:
            raise PageInvalid({item: "Besvar venligst dette spørgsmål." for items in missing.values() for item in items})
        hidden = [i.id for i in q.question_items()
                  if i.id in answers and not q.is_shown(i, answers, response["group_name"], not_asked)]
        if hidden:
            db.conn.executemany("DELETE FROM answers WHERE response_id = ? AND item_id = ?", [(response["id"], h) for h in hidden])
        stamp = _stamp(round_)  # one reading of the clock: submitted_at = last_saved_at for a response never saved
        db.execute("UPDATE responses SET status = 'complete', submitted_at = ?, last_saved_at = COALESCE(last_saved_at, ?) WHERE id = ?",
                   (stamp, stamp, response["id"]))
        _mark_invitation(db, {**response, "_invitation_id": invitation_id}, completed=True)
    return get_response(db, response["id"])


def set_registration(db, response: dict, registered_by: str, mode: str, reference_date: str | None = None,
                     participants: str | None = None) -> None:
    """Record who registered a response on someone's behalf, how, and which date it refers to."""
    if mode not in REGISTRATION_MODES:
        raise SurveyError(f"registration mode must be one of {', '.join(REGISTRATION_MODES)}")
    if not (registered_by or "").strip():
        raise SurveyError("say who registers the answers")
    if reference_date:
        try:
            reference_date = dt.date.fromisoformat(reference_date).isoformat()
        except ValueError:
            raise SurveyError("the date must be YYYY-MM-DD") from None
    with transaction(db):
        db.execute("UPDATE responses SET registered_by = ?, registration_mode = ?, reference_date = ?, participants = ? WHERE id = ?",
                   (registered_by.strip(), mode, reference_date, (participants or "").strip() or None, response["id"]))


# ---------------------------------------------------------------- imports from other tools

IMPORT_SPECIAL = ("key", "email", "status", "submitted_at", "name", "group", "unit")
BATCH = 50_000


def _choice_lookup(q: Questionnaire, item) -> dict[str, float] | None:
    """Every accepted spelling of a choice item's options (code, label, English label) -> code.

    The hot path of a large import is one dict lookup per cell; anything not found here goes
    through parse_answer, the same rules the answer pages use (and its error message).
    """
    if item.type not in ("scale", "single"):
        return None
    options = q.options(item) + q.missing_options(item)
    lookup: dict[str, float] = {}
    # Codes win over labels, as in parse_answer (a label "2" on the option coded 1 stays a label).
    for option in options:
        lookup[str(option.code)] = lookup[f"{option.code}.0"] = float(option.code)
    for option in options:
        for spelling in (option.label, option.label.casefold(), option.label_en or "", (option.label_en or "").casefold()):
            if spelling:
                lookup.setdefault(spelling, float(option.code))
    return lookup


class _Plan:
    """What the import needs per respondent group: version, questionnaire, column parsers."""

    def __init__(self, db, round_id: int, group: str, item_columns: list[str]):
        self.version_id = version_for_group(db, round_id, group)
        self.q = get_version(db, self.version_id)
        self.items = items = {i.id: i for i in self.q.question_items()}
        self.columns = [(c, items[c], _choice_lookup(self.q, items[c])) for c in item_columns if c in items]
        self.foreign = [c for c in item_columns if c not in items]
        # Items that a group rule or show_if can hide, and the items those conditions read.
        self.conditional = [i for i in items.values() if i.show_if is not None or i.groups]
        self.sources = {i.show_if.item for i in self.conditional if i.show_if is not None}


def import_responses(db, round_ref, path: str | Path | None = None, data: bytes | None = None,
                     filename: str | None = None, actor: str = "cli") -> dict:
    """Load earlier rounds' answers from another tool; every row is checked before anything is stored.

    Columns: `key` (or `email`), one per item id (an option code or label; blank = not answered),
    optional `status` (complete / partial) and `submitted_at`. A file with any bad row stores
    nothing and the error lists every bad row with its line and column. The valid file goes in
    within one transaction, in batches.
    """
    round_ = get_round(db, round_ref)
    name = filename or str(path)
    header, rows = read_table(path, data, name)
    lower = {h.casefold(): h for h in header}
    if "key" not in lower and "email" not in lower:
        raise ImportRejected(name, [RowError(1, "key", "the file needs a column 'key' or 'email'")])
    anonymous = bool(round_["anonymous"])
    invitations: dict[tuple[str, str], dict] = {}
    for row in db.query(
        "SELECT i.id, i.group_name, i.unit, i.started, i.completed, i.not_asked, p.key, lower(p.email) AS email FROM invitations i "
        "JOIN people p ON p.id = i.person_id WHERE i.round_id = ? AND i.removed_at IS NULL", [round_["id"]]):
        invitations[("key", row["key"])] = dict(row)
        if row["email"]:
            invitations.setdefault(("email", row["email"]), dict(row))
    # Anonymous rounds keep no link from a response to its invitation: the invitation's flags say it.
    answered = {r["invitation_id"] for r in db.query(
        "SELECT invitation_id FROM responses WHERE round_id = ? AND invitation_id IS NOT NULL", [round_["id"]])}
    if anonymous:
        answered |= {i["id"] for i in invitations.values() if i["started"] or i["completed"]}
    item_columns = [h for h in header if h.casefold() not in IMPORT_SPECIAL]
    errors: list[RowError] = []
    known_items = set()
    for entry in round_questionnaires(db, round_["id"]).values():
        known_items |= {i.id for i in get_version(db, entry["version_id"]).question_items()}
    for column in item_columns:
        if column not in known_items:
            errors.append(RowError(1, column, f"'{column}' is not an item of this round's questionnaires "
                                              f"(and not one of {', '.join(IMPORT_SPECIAL)})"))
    item_columns = [c for c in item_columns if c in known_items]
    key_column, email_column = lower.get("key"), lower.get("email")
    status_column, submitted_column = lower.get("status"), lower.get("submitted_at")
    plans: dict[str, _Plan] = {}
    parsed_rows = []
    skipped = 0
    seen: dict[int, int] = {}
    for line, raw in rows:
        key = raw.get(key_column, "").strip() if key_column else ""
        email = raw.get(email_column, "").strip().casefold() if email_column else ""
        if key:
            invitation = invitations.get(("key", key)) or invitations.get(("key", key.casefold()))
        else:
            invitation = invitations.get(("email", email)) if email else None
        who_column = key_column if key else (email_column or key_column)
        if invitation is None:
            reason = f"'{key or email}' is not on the round's list" if (key or email) else "no key or email given"
            errors.append(RowError(line, who_column, reason))
            continue
        if invitation["id"] in seen:
            errors.append(RowError(line, who_column, f"'{key or email}' appears twice in the file (first at line {seen[invitation['id']]})"))
            continue
        seen[invitation["id"]] = line
        if invitation["id"] in answered:
            errors.append(RowError(line, who_column, f"'{key or email}' already has a response in this round"))
            continue
        group = invitation["group_name"]
        plan = plans.get(group)
        if plan is None:
            plan = plans[group] = _Plan(db, round_["id"], group, item_columns)
        given_status = raw.get(status_column, "").strip().casefold() if status_column else ""
        status = given_status or "complete"
        if status not in ("complete", "partial"):
            errors.append(RowError(line, status_column, f"status must be complete or partial, not '{status}'"))
        submitted = raw.get(submitted_column, "").strip() if submitted_column else ""
        if submitted:
            try:
                moment = dt.datetime.fromisoformat(submitted)
            except ValueError:
                errors.append(RowError(line, submitted_column, f"'{submitted}' is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"))
                submitted = ""
            else:
                submitted = moment.date().isoformat() if anonymous else moment.isoformat()
        for column in plan.foreign:
            if raw.get(column, "").strip():
                errors.append(RowError(line, column, f"'{column}' is not an item of questionnaire {plan.q.id} (group '{group}')"))
        values = []  # (item id, item version, value_num, value_text)
        row_ok = True
        for column, item, lookup in plan.columns:
            cell = raw.get(column)
            if not cell:
                continue
            code = lookup.get(cell) if lookup is not None else None
            if code is not None:
                values.append((column, item.version, code, None))
                continue
            try:
                value = parse_answer(plan.q, item, cell)
            except AnswerError as error:
                errors.append(RowError(line, column, f"{cell!r}: {error}"))
                row_ok = False
                continue
            if value is not None:
                values.append((column, item.version, *value))
        if row_ok and plan.conditional and values:
            given = {v[0] for v in values}
            shown_answers = {v[0]: decode_answer(plan.items[v[0]], v[2], v[3]) for v in values if v[0] in plan.sources}
            for item in plan.conditional:
                if item.id in given and not plan.q.is_shown(item, shown_answers, group):
                    why = (f"the item is not asked of group '{group}'" if not plan.q.applies_to_group(item, group)
                           else f"the answer to '{item.show_if.item}' hides it (show_if)")
                    errors.append(RowError(line, item.id, f"answered, but {why}; leave the cell blank"))
        if row_ok and values:
            for item_id in sorted({v[0] for v in values} & parse_not_asked(invitation["not_asked"])):
                errors.append(RowError(line, item_id, "answered, but the item is not asked of this respondent; leave the cell blank"))
        if not values and status != "complete" or not values and not given_status:
            # Exports often list everyone invited: a row without answers (and not explicitly
            # complete) is someone who did not respond, not an empty response.
            skipped += 1
            continue
        parsed_rows.append((invitation, plan, status, submitted or None, values))
    if errors:
        raise ImportRejected(name, errors)
    stamp = _stamp(round_)
    if anonymous:
        # Response ids follow insertion order; shuffled, they say nothing about the file's order
        # (which is often the respondent list's order).
        random.SystemRandom().shuffle(parsed_rows)
    answer_count = 0
    with transaction(db):
        next_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM responses").fetchone()[0]
        response_rows, invitation_rows, answer_rows = [], [], []
        for offset, (invitation, plan, status, submitted, values) in enumerate(parsed_rows):
            response_id = next_id + offset
            when = submitted or stamp
            response_rows.append((response_id, round_["id"], None if anonymous else invitation["id"], invitation["group_name"],
                                  invitation["unit"], plan.version_id, "complete" if status == "complete" else "started",
                                  when, when, when if status == "complete" else None))
            invitation_rows.append((int(status == "complete"), invitation["id"]))
            # Rows in primary-key order, so the WITHOUT ROWID table appends instead of reshuffling pages.
            values.sort()  # by item id (unique within a row)
            for item_id, version, num, text in values:
                answer_rows.append((response_id, item_id, version, num, text, stamp))
            if len(answer_rows) >= BATCH:
                answer_count += _flush(db, response_rows, invitation_rows, answer_rows)
        answer_count += _flush(db, response_rows, invitation_rows, answer_rows)
        audit.record(db, actor, "responses.imported", round_["id"], file=Path(name).name, responses=len(parsed_rows),
                     answers=answer_count)
    return {"round": round_["id"], "responses": len(parsed_rows), "answers": answer_count, "skipped": skipped}


def _flush(db, response_rows: list, invitation_rows: list, answer_rows: list) -> int:
    """Insert one batch (responses before their answers) and empty the lists."""
    conn = db.conn
    conn.executemany(
        "INSERT INTO responses (id, round_id, invitation_id, group_name, unit, questionnaire_version_id, status, "
        "started_at, last_saved_at, submitted_at, source) VALUES (?,?,?,?,?,?,?,?,?,?, 'import')", response_rows)
    conn.executemany("UPDATE invitations SET started = 1, completed = ? WHERE id = ?", invitation_rows)
    conn.executemany(
        "INSERT INTO answers (response_id, item_id, item_version, value_num, value_text, saved_at) VALUES (?,?,?,?,?,?)",
        answer_rows)
    count = len(answer_rows)
    response_rows.clear(), invitation_rows.clear(), answer_rows.clear()
    return count
