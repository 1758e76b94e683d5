"""The respondent's pages: a questionnaire answered through a personal link, no login.

    GET  /s/<token>              resume: registration, the first unfinished page, or the review
    GET  /s/<token>/register     who registers on someone's behalf (rounds answered_by citizen/unit)
    GET  /s/<token>/<n>          page n (one section per page, 1-based)
    POST /s/<token>/<n>          save the page: action=next (required items enforced), action=back
                                 (saves what is valid, goes back); header X-Autosave: 1 -> JSON
    GET  /s/<token>/review       every answer with a link to its page; POST .../submit hands it in
    GET  /s/<token>/done         thank-you page (no form)

Status codes: unknown link 404, round not open yet 403, round closed 410, completed link 200
(thank-you page), a page with problems 422 (re-shown with the answers kept), a change to a
submitted response 409. The view only calls services in `responses`; it stores nothing itself.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from flask_babel import gettext as _
from markupsafe import Markup, escape

from .. import get_db, throttle
from .. import responses as service
from ..errors import Conflict, SurveyError
from ..questionnaire import Item, Questionnaire
from ..questionnaire_store import get_version
from ..rounds import version_for_group
from ..tokens import NO_RESPONSE_LOOKED_UP, find_visit
from . import link_csrf
from .extensions import LANGUAGES  # the page languages the locale selector accepts

bp = Blueprint("respond", __name__, url_prefix="/s")
throttle.install(bp)  # a client presenting many unknown links gets 429 (surveyapp/throttle.py)
link_csrf.protect(bp)  # every POST carries a CSRF token bound to its link, not to a session cookie

MODES = service.REGISTRATION_MODES  # the one list set_registration accepts


@bp.after_request
def _private(response):
    # Answer pages carry a personal token in the address: never cache them, never leak the address.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# ---------------------------------------------------------------- the respondent's state


@dataclass
class Visit:
    token: str
    invitation: dict
    round: dict
    q: Questionnaire
    response: dict | None
    answers: dict
    person_name: str | None
    group: str
    registration_needed: bool = False
    pages: list[int] = field(default_factory=list)
    not_asked: frozenset = frozenset()  # items the invitation does not ask (never rendered, saved or required)

    @property
    def complete(self) -> bool:
        return bool(self.response and self.response["status"] == "complete")

    @property
    def editable_after_submit(self) -> bool:
        return bool(self.round["allow_edit_after_submit"]) and self.round["status"] == "open"


class Stop(Exception):
    """Ends a view with a ready response (friendly error page, thank-you page)."""

    def __init__(self, response):
        self.response = response


@bp.errorhandler(Stop)
def _stop(stop: Stop):
    return stop.response


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _english() -> bool:
    # Flask-Babel fixes the locale at its first use in a request, so one look-up per request is
    # enough (loc() asks for every text on a page).
    english = g.get("_respond_english")
    if english is None:
        english = g._respond_english = str(get_locale()) == "en"
    return english


def loc(obj, name: str, english: bool | None = None):
    """A questionnaire text in the page language: `name_en` when English and present.
    (`english`: the page language when the caller has it at hand, saving a look-up per text.)"""
    if obj is None:
        return None
    if _english() if english is None else english:
        value = getattr(obj, f"{name}_en", None)
        if value:
            return value
    return getattr(obj, name, None)


def link(endpoint: str, **values) -> str:
    """url_for that keeps an explicit ?lang= choice from page to page."""
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        values.setdefault("lang", lang)
    return url_for(endpoint, **values)


# The page that shows what each endpoint answers (a post's own page for save and submit).
_SWITCH_TARGET = {"respond.start": "respond.start", "respond.register": "respond.register", "respond.page": "respond.page",
                  "respond.review": "respond.review", "respond.done": "respond.done",
                  "respond.save": "respond.page", "respond.submit": "respond.review"}


def language_switch() -> dict:
    """The link to the same page in the other language."""
    other = "da" if _english() else "en"
    endpoint = _SWITCH_TARGET.get(request.endpoint)
    if endpoint is None or not request.view_args or "token" not in request.view_args:
        return {"url": None, "lang": other}
    return {"url": url_for(endpoint, **request.view_args, lang=other), "lang": other,
            "label": "English" if other == "en" else "Dansk"}


def _template_gettext():
    """`{{ _('...') }}` for this render: Jinja's new-style gettext (autoescaped, always %-formatted)
    over the request's catalogue, fetched once. Flask-Babel's own looks the locale and catalogue
    up again for every string, which cost ~15 % of an answer page."""
    translations = get_translations()
    seen: dict[str, str] = {}

    @pass_context
    def gettext(__context, __string, **variables):
        rv = seen.get(__string)
        if rv is None:
            rv = seen[__string] = translations.ugettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return gettext


@bp.context_processor
def _helpers():
    # (get_locale, which base.html uses for <html lang>, is an app-wide template global: extensions.init_app)
    return {"loc": loc, "respond_link": link, "language_switch": language_switch, "gettext": _template_gettext()}


def _visit(token: str, answers: bool = True) -> Visit:
    """The link's state. `answers=False` (the page save and submit, whose services read them and
    check them inside the write lock): visit.answers stay {} and visit.pages [] until the caller
    fills them."""
    db = get_db()
    # One query for the link, its round, its person and (personal rounds) its response.
    found = find_visit(db, _secret(), token)
    invitation = found["invitation"] if found else None
    if invitation is None or invitation.get("removed_at"):
        raise Stop((render_template("respond/message.html", kind="not_found", title=_("Linket virker ikke"),
                                    message=_("Vi kan ikke finde et spørgeskema til dette link. Tjek, at du har "
                                              "kopieret hele linket fra mailen. Kontakt afsenderen af mailen, hvis "
                                              "det stadig ikke virker.")), 404))
    person = found["person"]
    if person and person["language"] in LANGUAGES:
        g.language = person["language"]  # the locale selector puts ?lang= first, then this
    round_ = found["round"]
    response = found["response"]
    if response is NO_RESPONSE_LOOKED_UP:  # anonymous round: found by its keyed hash only
        response = service.find_response(db, _secret(), token, invitation)
    version_id = response["questionnaire_version_id"] if response else version_for_group(db, round_["id"], invitation["group_name"])
    q = get_version(db, version_id, found["questionnaire_sha256"] if response is found["response"] else None)
    stored = service.load_answers(db, response["id"], q) if response and answers else {}
    visit = Visit(token, invitation, round_, q, response, stored, person["name"] if person else None,
                  invitation["group_name"])
    visit.registration_needed = round_["answered_by"] in ("citizen", "unit") and not (response and response["registered_by"])
    visit.not_asked = service.parse_not_asked(invitation.get("not_asked"))
    if answers:
        visit.pages = visible_pages(q, stored, visit.group, visit.not_asked)
    return visit


def _gate(visit: Visit, changing: bool = False) -> None:
    """Friendly pages for links that cannot be answered (now)."""
    if visit.complete and not visit.editable_after_submit:
        if changing:
            raise Stop((_thanks(visit, already=True), 409))
        raise Stop(_thanks(visit))
    if visit.round["status"] == "draft":
        raise Stop((render_template("respond/message.html", kind="not_open", title=_("Spørgeskemaet er ikke åbnet endnu"),
                                    message=_("Du kan svare, når målerunden åbner. Brug det samme link igen senere."),
                                    visit=visit, title_text=loc(visit.q, "title")), 403))
    if visit.round["status"] != "open":
        raise Stop((render_template("respond/message.html", kind="closed", title=_("Spørgeskemaet er lukket"),
                                    message=_("Målerunden er afsluttet, så der kan ikke længere svares. Tak for din interesse."),
                                    visit=visit, title_text=loc(visit.q, "title")), 410))


def _thanks(visit: Visit, already: bool = False):
    return render_template("respond/thanks.html", already=already, **_common(visit))


def visible_pages(q: Questionnaire, answers: dict, group: str, not_asked: frozenset = frozenset()) -> list[int]:
    """Section indices with at least one item shown to this respondent."""
    return [index for index, section in enumerate(q.sections)
            if any(q.is_shown(item, answers, group, not_asked) for item in section.items)]


def _resume_target(visit: Visit) -> str:
    if visit.registration_needed:
        return link("respond.register", token=visit.token)
    start = visit.response["current_section"] if visit.response else 0
    for index in visit.pages:
        if index >= start:
            return link("respond.page", token=visit.token, number=index + 1)
    return link("respond.review", token=visit.token)


# ---------------------------------------------------------------- building a page


def rendered(q: Questionnaire, item: Item, section_ids: set[str], answers: dict, group: str,
             not_asked: frozenset = frozenset()) -> bool:
    """Whether the server puts the item on the page. A condition on an item of the same page is
    left to the browser (and the server's check when saving); a condition on an earlier page is
    decided here, from the stored answers. An item the invitation does not ask is never put there."""
    if item.id in not_asked or not q.applies_to_group(item, group):
        return False
    if item.show_if is None:
        return True
    source = q.item(item.show_if.item)
    if source.id in section_ids:
        return rendered(q, source, section_ids, answers, group, not_asked)
    return q.is_shown(item, answers, group, not_asked)


def _form_value(item: Item, value) -> str | list[str]:
    """A stored (decoded) answer as the form shows it."""
    if value is None:
        return [] if item.type == "multiple" else ""
    if item.type == "multiple":
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if item.type == "number" and isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
        return text if _english() else text.replace(".", ",")
    return str(value)


def _option_views(options, english: bool | None = None) -> list[dict]:
    english = _english() if english is None else english
    return [{"code": str(o.code), "label": loc(o, "label", english)} for o in options]


def page_items(visit: Visit, index: int, posted: dict | None = None, errors: dict | None = None) -> list[dict]:
    q, section = visit.q, visit.q.sections[index]
    ids = {item.id for item in section.items}
    errors = errors or {}
    english = _english()
    views = []
    for item in section.items:
        if not rendered(q, item, ids, visit.answers, visit.group, visit.not_asked):
            continue
        if posted is not None and item.id in posted:
            value = posted[item.id]
        else:
            value = _form_value(item, visit.answers.get(item.id))
        show_if = None
        if item.show_if is not None and item.show_if.item in ids:
            codes = item.show_if.codes()
            show_if = {"item": item.show_if.item,
                       "codes": " ".join(str(c) for c in codes) if codes is not None else None,
                       "answered": None if item.show_if.answered is None else ("true" if item.show_if.answered else "false")}
        view = {
            "id": item.id, "type": item.type, "text": loc(item, "text", english), "help": loc(item, "help", english),
            "required": item.required, "multiline": item.multiline, "max_length": item.max_length,
            "options": _option_views(q.options(item), english), "missing": _option_views(q.missing_options(item), english),
            "value": value if isinstance(value, list) else ("" if value is None else str(value)),
            "error": errors.get(item.id), "show_if_attrs": _show_if_attrs(show_if),
        }
        view["described"] = " ".join((["help-" + item.id] if view["help"] else []) + (["err-" + item.id] if view["error"] else []))
        if item.type in ("scale", "single", "multiple"):
            view["choices_html"] = _choices_html(view, view["options"], "")
            view["missing_html"] = _choices_html(view, view["missing"], " choice-missing")
        views.append(view)
    return views


def _show_if_attrs(show_if: dict | None) -> Markup:
    """The data-show-* attributes respond.js reads (none for an item the server decided on)."""
    if not show_if:
        return Markup("")
    text = f' data-show-if="{escape(show_if["item"])}"'
    if show_if["codes"] is not None:
        text += f' data-show-codes="{escape(show_if["codes"])}"'
    if show_if["answered"] is not None:
        text += f' data-show-answered="{escape(show_if["answered"])}"'
    return Markup(text)


def _choices_html(view: dict, options: list[dict], extra_class: str) -> Markup:
    """The radio buttons or check boxes of a choice item, one label per option. Built here
    rather than by a Jinja macro per option (a macro call per option was a third of an answer
    page's CPU time); tests/respond/test_respond_fast_render.py spells the markup out."""
    multiple = view["type"] == "multiple"
    kind = "checkbox" if multiple else "radio"
    value = view["value"]
    item_id = escape(view["id"])
    attrs = (' aria-invalid="true"' if view["error"] else "") + \
        (f' aria-describedby="{escape(view["described"])}"' if view["described"] else "")
    parts = []
    for option in options:
        code = option["code"]
        checked = (code in value) if multiple else (code == value)
        input_id = f"{item_id}-{escape(code)}"
        parts.append(f'<label class="choice{extra_class}" for="{input_id}"><input type="{kind}" id="{input_id}" '
                     f'name="{item_id}" value="{escape(code)}"{" checked" if checked else ""}{attrs}>'
                     f'<span class="choice-label">{escape(option["label"])}</span></label>')
    return Markup("\n".join(parts))


def translate_error(message: str) -> str:
    """The services' Danish messages in the page language (msgids in the catalogue)."""
    known = {
        "Besvar venligst dette spørgsmål.": lambda: _("Besvar venligst dette spørgsmål."),
        "Vælg mindst én svarmulighed.": lambda: _("Vælg mindst én svarmulighed."),
        "Vælg en af svarmulighederne.": lambda: _("Vælg en af svarmulighederne."),
        "Skriv et tal.": lambda: _("Skriv et tal."),
        "Skriv en dato som ÅÅÅÅ-MM-DD.": lambda: _("Skriv en dato som ÅÅÅÅ-MM-DD."),
    }
    if message in known:
        return known[message]()
    match = re.fullmatch(r"Tallet skal være mindst (.+)\.", message)
    if match:
        return _("Tallet skal være mindst %(n)s.", n=match.group(1))
    match = re.fullmatch(r"Tallet må højst være (.+)\.", message)
    if match:
        return _("Tallet må højst være %(n)s.", n=match.group(1))
    match = re.fullmatch(r"Svaret må højst være (\d+) tegn\.", message)
    if match:
        return _("Svaret må højst være %(n)s tegn.", n=match.group(1))
    return message


def _posted(section) -> dict:
    posted, form = {}, request.form
    for item in section.items:
        if item.type == "info":
            continue
        if item.type == "multiple":
            posted[item.id] = form.getlist(item.id)
        elif item.id in form:
            posted[item.id] = form.get(item.id)
    return posted


def _comparable(item: Item, value) -> object:
    if item.type == "multiple":
        return sorted(str(v) for v in (value or []))
    text = "" if value is None else str(value).strip()
    return text.replace(",", ".") if item.type == "number" else text


def base_values(visit: Visit, index: int) -> str:
    """The page's stored answers as the form showed them (hidden field `_base`)."""
    values = {item.id: _form_value(item, visit.answers.get(item.id))
              for item in visit.q.sections[index].items if item.type != "info"}
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _merge_with_other_tabs(visit: Visit, section, posted: dict) -> dict:
    """A field this tab left as it was loaded keeps what is stored now, so a second tab (or an
    older copy of the page) never blanks an answer given elsewhere in the meantime. Posts without
    `_base` (scripts, old pages) are taken as they are."""
    try:
        base = json.loads(request.form.get("_base") or "null")
    except ValueError:
        base = None
    if not isinstance(base, dict):
        return posted
    merged = dict(posted)
    for item in section.items:
        if item.type == "info" or item.id not in base:
            continue
        mine = posted.get(item.id, [] if item.type == "multiple" else "")
        if _comparable(item, mine) == _comparable(item, base[item.id]):
            merged[item.id] = _form_value(item, visit.answers.get(item.id))
    return merged


def _about(visit: Visit) -> dict | None:
    """Who or what a response registered on someone's behalf is about."""
    answered_by = visit.round["answered_by"]
    if answered_by == "citizen":
        return {"kind": "citizen", "name": visit.person_name or visit.invitation.get("unit") or ""}
    if answered_by == "unit":
        return {"kind": "unit", "name": visit.invitation["unit"] or visit.person_name or ""}
    return None


def _common(visit: Visit) -> dict:
    return {"visit": visit, "about": _about(visit), "anonymous": bool(visit.round["anonymous"]),
            "title_text": loc(visit.q, "title"), "english": _english(),
            "link_csrf_token": link_csrf.token_for(_secret(), visit.token)}


def _render_page(visit: Visit, index: int, posted: dict | None = None, errors: dict | None = None, status: int = 200,
                 action_url: str | None = None):
    section = visit.q.sections[index]
    pages = visit.pages if index in visit.pages else sorted(set(visit.pages) | {index})
    position = pages.index(index) + 1
    items = page_items(visit, index, posted, {k: translate_error(v) for k, v in (errors or {}).items()})
    first = position == 1
    html = render_template(
        "respond/page.html", section=section, section_title=loc(section, "title"), section_intro=loc(section, "intro"),
        items=items, error_items=[i for i in items if i["error"]], number=index + 1, position=position, total=len(pages), first=first,
        intro=loc(visit.q, "intro") if first else None, has_back=not first or visit.round["answered_by"] != "self",
        base=base_values(visit, index), action_url=action_url or link("respond.page", token=visit.token, number=index + 1), **_common(visit))
    return html, status


# ---------------------------------------------------------------- views


@bp.get("/<token>")
@bp.get("/<token>/done", endpoint="done")  # the thank-you page is where the link leads once submitted
def start(token: str):
    visit = _visit(token)
    if visit.complete:
        return _thanks(visit)  # with a link to change the answers when the round allows it
    _gate(visit)
    return redirect(_resume_target(visit))


@bp.route("/<token>/register", methods=["GET", "POST"])
def register(token: str):
    visit = _visit(token)
    _gate(visit, changing=request.method == "POST")
    if visit.round["answered_by"] not in ("citizen", "unit"):
        return redirect(_resume_target(visit))
    response = visit.response or {}
    values = {"registered_by": response.get("registered_by") or "", "mode": response.get("registration_mode") or "",
              "reference_date": response.get("reference_date") or dt.date.today().isoformat(),
              "participants": response.get("participants") or ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {key: (request.form.get(key) or "").strip() for key in values}
        if not values["registered_by"]:
            errors["registered_by"] = _("Skriv navnet på den, der registrerer svarene.")
        if values["mode"] not in MODES:
            errors["mode"] = _("Vælg, hvordan svarene er indsamlet.")
        try:
            dt.date.fromisoformat(values["reference_date"])
        except ValueError:
            errors["reference_date"] = _("Skriv en dato som ÅÅÅÅ-MM-DD.")
        if not errors:
            db = get_db()
            row = service.start_response(db, _secret(), token, visit.invitation)
            try:
                service.set_registration(db, row, values["registered_by"], values["mode"], values["reference_date"],
                                         values["participants"] if visit.round["answered_by"] == "unit" else None)
            except SurveyError as error:  # the checks above mirror the service; this is a last guard
                errors["registered_by"] = str(error)
            else:
                # The registration changes no answer, so the pages the visit found still hold.
                if not visit.pages:
                    return redirect(link("respond.review", token=token))
                return redirect(link("respond.page", token=token, number=visit.pages[0] + 1))
    return render_template("respond/register.html", values=values, errors=errors, modes=MODES,
                           total=len(visit.pages), intro=loc(visit.q, "intro"), **_common(visit)), (422 if errors else 200)


def _section_index(visit: Visit, number: int) -> int:
    index = number - 1
    if not 0 <= index < len(visit.q.sections):
        abort(404)
    return index


@bp.get("/<token>/<int:number>")
def page(token: str, number: int):
    visit = _visit(token)
    _gate(visit)
    if visit.registration_needed:
        return redirect(link("respond.register", token=token))
    index = _section_index(visit, number)
    if index not in visit.pages:  # every item on it is skipped: move on
        later = [p for p in visit.pages if p > index]
        return redirect(link("respond.page", token=token, number=later[0] + 1) if later else link("respond.review", token=token))
    return _render_page(visit, index)


@bp.post("/<token>/<int:number>")
def save(token: str, number: int):
    autosave = request.headers.get("X-Autosave") == "1"
    # The stored answers are read by save_page, which checks them again inside its write lock (see merge below).
    visit = _visit(token, answers=False)
    try:
        _gate(visit, changing=True)
    except Stop as stop:
        if autosave:
            body, status = stop.response if isinstance(stop.response, tuple) else (stop.response, 200)
            return jsonify(saved=False, reason="closed" if status != 409 else "submitted"), status
        raise
    if visit.registration_needed:
        if autosave:
            return jsonify(saved=False, reason="registration"), 409
        return redirect(link("respond.register", token=token))
    index = _section_index(visit, number)
    action = request.form.get("action", "next")
    section = visit.q.sections[index]
    raw = _posted(section)
    posted = raw

    def merge(stored: dict) -> dict:
        # Called by save_page with the stored answers (again inside its write lock if another tab
        # saved meanwhile): a field this tab left untouched keeps them (_merge_with_other_tabs).
        nonlocal posted
        visit.answers = stored
        posted = _merge_with_other_tabs(visit, section, raw)
        return posted

    db = get_db()
    # The visit found the response already (one lookup); a first save creates it.
    response = visit.response or service.start_response(db, _secret(), token, visit.invitation)
    try:
        saved = service.save_page(db, response, index, merge, partial=autosave or action == "back",
                                  not_asked=visit.not_asked, q=visit.q,
                                  invitation_started=bool(visit.invitation.get("started")))
    except service.PageInvalid as invalid:
        errors = {k: translate_error(v) for k, v in invalid.errors.items()}
        if autosave:
            return jsonify(saved=False, errors=errors), 422
        visit.response = response
        visit.pages = visible_pages(visit.q, visit.answers, visit.group, visit.not_asked)
        return _render_page(visit, index, posted=posted, errors=invalid.errors, status=422)
    except Conflict:
        visit = _visit(token)
        _gate(visit, changing=True)
        raise
    if autosave:
        return jsonify(saved=True)
    # Where to go next depends on the answers just stored (show_if can skip pages): save_page
    # returns them as stored by its transaction, so nothing is read again.
    visit.response = response
    visit.answers = saved["answers"]
    visit.pages = visible_pages(visit.q, visit.answers, visit.group, visit.not_asked)
    if action == "back":
        earlier = [p for p in visit.pages if p < index]
        if earlier:
            return redirect(link("respond.page", token=token, number=earlier[-1] + 1))
        if visit.round["answered_by"] in ("citizen", "unit"):
            return redirect(link("respond.register", token=token))
        return redirect(link("respond.page", token=token, number=index + 1))
    later = [p for p in visit.pages if p > index]
    if later:
        return redirect(link("respond.page", token=token, number=later[0] + 1))
    return redirect(link("respond.review", token=token))


def answer_text(q: Questionnaire, item: Item, value) -> str | None:
    """An answer as the review page shows it (labels, not codes)."""
    if value in (None, "", []):
        return None
    if item.type in ("scale", "single", "multiple"):
        labels = {o.code: loc(o, "label") for o in q.options(item) + q.missing_options(item)}
        codes = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(code, str(code)) for code in codes)
    if item.type == "number":
        return _form_value(item, float(value))
    return str(value)


@bp.get("/<token>/review")
def review(token: str):
    visit = _visit(token)
    _gate(visit)
    if visit.registration_needed:
        return redirect(link("respond.register", token=token))
    return _render_review(visit)


def _render_review(visit: Visit, status: int = 200):
    q = visit.q
    missing = service.missing_required(q, visit.answers, visit.group, visit.not_asked)
    sections = []
    for index in visit.pages:
        section = q.sections[index]
        rows = []
        for item in section.items:
            if item.type == "info" or not q.is_shown(item, visit.answers, visit.group, visit.not_asked):
                continue
            rows.append({"id": item.id, "text": loc(item, "text"), "answer": answer_text(q, item, visit.answers.get(item.id)),
                         "missing": item.id in missing.get(index, [])})
        sections.append({"number": index + 1, "title": loc(section, "title"), "rows": rows})
    return render_template("respond/review.html", sections=sections, missing=missing,
                           last_page=(visit.pages[-1] + 1) if visit.pages else None,
                           registration=visit.response if visit.round["answered_by"] in ("citizen", "unit") else None,
                           **_common(visit)), status


@bp.post("/<token>/submit")
def submit(token: str):
    # The service reads the answers inside its write transaction; the view needs them only to
    # re-show a page when something required is missing.
    visit = _visit(token, answers=False)
    if visit.complete:
        if not visit.editable_after_submit:
            return redirect(link("respond.done", token=token))  # a second click on Indsend
    _gate(visit, changing=True)
    if visit.registration_needed:
        return redirect(link("respond.register", token=token))
    db = get_db()
    response = visit.response or service.start_response(db, _secret(), token, visit.invitation)
    try:
        service.submit(db, response, invitation_id=visit.invitation["id"], not_asked=visit.not_asked, q=visit.q)
    except service.PageInvalid as invalid:
        # The first page holding an item the service found missing (its verdict, not a second one).
        first = next(index for index, section in enumerate(visit.q.sections)
                     if any(item.id in invalid.errors for item in section.items))
        visit.response = response
        visit.answers = service.load_answers(db, response["id"], visit.q)
        visit.pages = visible_pages(visit.q, visit.answers, visit.group, visit.not_asked)
        return _render_page(visit, first, errors=invalid.errors, status=422,
                            action_url=link("respond.page", token=token, number=first + 1))
    except Conflict:
        visit = _visit(token)
        _gate(visit, changing=True)
        raise
    return redirect(link("respond.done", token=token))
