"""The answer page builds the radio buttons and check boxes of a choice item in Python (one
string per item, for speed: see bench/README.md, Load). These tests hold that markup to the
`choice` macro in respond/_items.html, which documents it, and check it on a served page."""
from __future__ import annotations

import re

import pytest

from surveyapp.web.respond import _choices_html


def _squash(html: str) -> str:
    return re.sub(r">\s+<", "><", str(html)).strip()


OPTIONS = [{"code": "1", "label": "Helt enig"}, {"code": "2", "label": "Enig <&> \"citat\""},
           {"code": "9", "label": "Ved ikke"}]


@pytest.mark.parametrize("kind_type, value, error, help_text, extra", [
    ("scale", "2", None, None, ""),
    ("scale", "", "Besvar venligst dette spørgsmål.", None, ""),
    ("single", "9", None, "En hjælpetekst", " choice-missing"),
    ("single", "9", "Vælg en af svarmulighederne.", "En hjælpetekst", ""),
    ("multiple", ["1", "9"], None, None, ""),
    ("multiple", [], "Vælg mindst én svarmulighed.", "Hjælp", " choice-missing"),
])
def test_python_choices_equal_the_macro(app, kind_type, value, error, help_text, extra):
    view = {"id": "q_x", "type": kind_type, "value": value, "error": error, "help": help_text}
    view["described"] = " ".join((["help-q_x"] if help_text else []) + (["err-q_x"] if error else []))
    with app.test_request_context("/"):
        macros = app.jinja_env.get_template("respond/_items.html").module
        kind = "checkbox" if kind_type == "multiple" else "radio"
        expected = "".join(str(macros.choice(view, option, kind, extra)) for option in OPTIONS)
        got = _choices_html(view, OPTIONS, extra)
    assert _squash(got) == _squash(expected)
    # and what the macro means, spelled out: the chosen codes are checked, labels escaped
    chosen = value if isinstance(value, list) else [value]
    assert re.findall(r'value="(\w+)" checked', str(got)) == [o["code"] for o in OPTIONS if o["code"] in chosen]
    assert "Enig &lt;&amp;&gt; &#34;citat&#34;" in str(got)
    assert str(got).count('aria-invalid="true"') == (len(OPTIONS) if error else 0)


def test_served_page_marks_the_stored_answers(client, survey, db):
    s = survey()
    token = s["tokens"]["p1"]
    page = client.get(f"/s/{token}/1").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    radios = re.findall(r'<input type="radio" id="([^"]+)" name="([^"]+)" value="([^"]+)"', page)
    assert radios, "page 1 has a choice item"
    item_id = radios[0][1]
    code = [r[2] for r in radios if r[1] == item_id][-1]
    posted = client.post(f"/s/{token}/1", data={"csrf_token": csrf, "action": "back", item_id: code})
    assert posted.status_code in (302, 303)
    again = client.get(f"/s/{token}/1").get_data(as_text=True)
    checked = re.findall(r'name="([^"]+)" value="([^"]+)" checked', again)
    assert (item_id, code) in checked
    assert len([c for c in checked if c[0] == item_id]) == 1


@pytest.mark.parametrize("show_if", [
    None,
    {"item": "q1", "codes": "1 2", "answered": None},
    {"item": "q1", "codes": None, "answered": "true"},
    {"item": "q<1>", "codes": "3", "answered": "false"},
])
def test_python_show_if_attributes_equal_the_macro(app, show_if):
    from surveyapp.web.respond import _show_if_attrs

    with app.test_request_context("/"):
        macros = app.jinja_env.get_template("respond/_items.html").module
        expected = str(macros.show_if_attrs({"show_if": show_if}))
    got = str(_show_if_attrs(show_if))
    assert got == expected
    if show_if:
        assert f'data-show-if="{show_if["item"].replace("<", "&lt;").replace(">", "&gt;")}"' in got
    else:
        assert got == ""
