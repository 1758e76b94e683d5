"""The answer page builds the radio buttons and check boxes of a choice item in Python (one
string per item, for speed: see bench/README.md, Load). These tests spell that markup out by
hand, option by option, and check it on a served page."""
from __future__ import annotations

import re

import pytest

from respond_setup import csrf_from
from surveyapp.web.respond import _choices_html, _show_if_attrs


def _squash(html: str) -> str:
    return re.sub(r">\s+<", "><", str(html)).strip()


OPTIONS = [{"code": "1", "label": "Helt enig"}, {"code": "2", "label": "Enig <&> \"citat\""},
           {"code": "9", "label": "Ved ikke"}]
LABEL_2 = "Enig &lt;&amp;&gt; &#34;citat&#34;"  # the second label, escaped


@pytest.mark.parametrize("kind_type, value, error, help_text, extra, expected", [
    ("scale", "2", None, None, "", f"""
<label class="choice" for="q_x-1"><input type="radio" id="q_x-1" name="q_x" value="1"><span class="choice-label">Helt enig</span></label>
<label class="choice" for="q_x-2"><input type="radio" id="q_x-2" name="q_x" value="2" checked><span class="choice-label">{LABEL_2}</span></label>
<label class="choice" for="q_x-9"><input type="radio" id="q_x-9" name="q_x" value="9"><span class="choice-label">Ved ikke</span></label>
"""),
    ("scale", "", "Besvar venligst dette spørgsmål.", None, "", f"""
<label class="choice" for="q_x-1"><input type="radio" id="q_x-1" name="q_x" value="1" aria-invalid="true" aria-describedby="err-q_x"><span class="choice-label">Helt enig</span></label>
<label class="choice" for="q_x-2"><input type="radio" id="q_x-2" name="q_x" value="2" aria-invalid="true" aria-describedby="err-q_x"><span class="choice-label">{LABEL_2}</span></label>
<label class="choice" for="q_x-9"><input type="radio" id="q_x-9" name="q_x" value="9" aria-invalid="true" aria-describedby="err-q_x"><span class="choice-label">Ved ikke</span></label>
"""),
    ("single", "9", None, "En hjælpetekst", " choice-missing", f"""
<label class="choice choice-missing" for="q_x-1"><input type="radio" id="q_x-1" name="q_x" value="1" aria-describedby="help-q_x"><span class="choice-label">Helt enig</span></label>
<label class="choice choice-missing" for="q_x-2"><input type="radio" id="q_x-2" name="q_x" value="2" aria-describedby="help-q_x"><span class="choice-label">{LABEL_2}</span></label>
<label class="choice choice-missing" for="q_x-9"><input type="radio" id="q_x-9" name="q_x" value="9" checked aria-describedby="help-q_x"><span class="choice-label">Ved ikke</span></label>
"""),
    ("single", "9", "Vælg en af svarmulighederne.", "En hjælpetekst", "", f"""
<label class="choice" for="q_x-1"><input type="radio" id="q_x-1" name="q_x" value="1" aria-invalid="true" aria-describedby="help-q_x err-q_x"><span class="choice-label">Helt enig</span></label>
<label class="choice" for="q_x-2"><input type="radio" id="q_x-2" name="q_x" value="2" aria-invalid="true" aria-describedby="help-q_x err-q_x"><span class="choice-label">{LABEL_2}</span></label>
<label class="choice" for="q_x-9"><input type="radio" id="q_x-9" name="q_x" value="9" checked aria-invalid="true" aria-describedby="help-q_x err-q_x"><span class="choice-label">Ved ikke</span></label>
"""),
    ("multiple", ["1", "9"], None, None, "", f"""
<label class="choice" for="q_x-1"><input type="checkbox" id="q_x-1" name="q_x" value="1" checked><span class="choice-label">Helt enig</span></label>
<label class="choice" for="q_x-2"><input type="checkbox" id="q_x-2" name="q_x" value="2"><span class="choice-label">{LABEL_2}</span></label>
<label class="choice" for="q_x-9"><input type="checkbox" id="q_x-9" name="q_x" value="9" checked><span class="choice-label">Ved ikke</span></label>
"""),
    ("multiple", [], "Vælg mindst én svarmulighed.", "Hjælp", " choice-missing", f"""
<label class="choice choice-missing" for="q_x-1"><input type="checkbox" id="q_x-1" name="q_x" value="1" aria-invalid="true" aria-describedby="help-q_x err-q_x"><span class="choice-label">Helt enig</span></label>
<label class="choice choice-missing" for="q_x-2"><input type="checkbox" id="q_x-2" name="q_x" value="2" aria-invalid="true" aria-describedby="help-q_x err-q_x"><span class="choice-label">{LABEL_2}</span></label>
<label class="choice choice-missing" for="q_x-9"><input type="checkbox" id="q_x-9" name="q_x" value="9" aria-invalid="true" aria-describedby="help-q_x err-q_x"><span class="choice-label">Ved ikke</span></label>
"""),
])
def test_python_choices_markup(kind_type, value, error, help_text, extra, expected):
    view = {"id": "q_x", "type": kind_type, "value": value, "error": error, "help": help_text}
    view["described"] = " ".join((["help-q_x"] if help_text else []) + (["err-q_x"] if error else []))
    got = _choices_html(view, OPTIONS, extra)
    assert _squash(got) == _squash(expected)
    # and what the markup means, spelled out: the chosen codes are checked, labels escaped
    chosen = value if isinstance(value, list) else [value]
    assert re.findall(r'value="(\w+)" checked', str(got)) == [o["code"] for o in OPTIONS if o["code"] in chosen]
    assert LABEL_2 in str(got)
    assert str(got).count('aria-invalid="true"') == (len(OPTIONS) if error else 0)


def test_served_page_marks_the_stored_answers(client, survey, db):
    s = survey()
    token = s["tokens"]["p1"]
    page = client.get(f"/s/{token}/1").get_data(as_text=True)
    csrf = csrf_from(page)
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


@pytest.mark.parametrize("show_if, expected", [
    (None, ""),
    ({"item": "q1", "codes": "1 2", "answered": None}, ' data-show-if="q1" data-show-codes="1 2"'),
    ({"item": "q1", "codes": None, "answered": "true"}, ' data-show-if="q1" data-show-answered="true"'),
    ({"item": "q<1>", "codes": "3", "answered": "false"},
     ' data-show-if="q&lt;1&gt;" data-show-codes="3" data-show-answered="false"'),
])
def test_python_show_if_attributes(show_if, expected):
    assert str(_show_if_attrs(show_if)) == expected
