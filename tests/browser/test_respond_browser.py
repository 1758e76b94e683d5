"""Answering in a real browser (Debian chromium via Playwright): phone and desktop, resume after
closing the tab, show_if in the browser, keyboard use, reflow at 200 % zoom, and axe-core on every
page type. Screenshots of each page type go to test-output/respond-*.png."""
from __future__ import annotations


import pytest
from playwright.sync_api import expect

from browser_helpers import area_helpers, axe_violations
from surveyapp.db import connect

pytestmark = pytest.mark.browser



setup = area_helpers("respond", "respond_setup")


@pytest.fixture
def site(live_server, live_app):
    """The live server with an open round (p1..p3), a closed round and a citizen round."""
    db = connect(live_app.config["DATABASE"])
    secret = live_app.config["SECRET_KEY"]
    data = {
        "open": setup.build(db, secret, name="Åben runde"),
        "closed": setup.build(db, secret, name="Lukket runde", status="closed"),
        "citizen": setup.build(db, secret, name="Borgerrunde", answered_by="citizen"),
        "url": live_server.url, "db": db,
    }
    yield data
    db.conn.close()


def check_axe(page, what: str):
    violations = axe_violations(page)
    assert violations == [], f"{what}: " + "; ".join(f"{v['id']} ({v['impact']}): {v['help']}" for v in violations)


def shot(page, output_dir, name: str):
    page.screenshot(path=str(output_dir / f"respond-{name}.png"), full_page=True)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def stored_answers(db, invitation_id: int) -> dict:
    rows = db.query("SELECT a.item_id, a.value_num, a.value_text FROM answers a JOIN responses r ON r.id = a.response_id "
                    "WHERE r.invitation_id = ?", [invitation_id])
    return {r["item_id"]: r["value_num"] if r["value_num"] is not None else r["value_text"] for r in rows}


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_answer_the_whole_questionnaire(request, device, site, output_dir):
    page = request.getfixturevalue(device)
    token = site["open"]["tokens"]["p1"]
    page.goto(f"{site['url']}/s/{token}")
    assert page.url.endswith(f"/s/{token}/1")
    assert page.locator("h1").inner_text() == "Om dig"
    assert page.locator("progress").get_attribute("value") == "1"
    shot(page, output_dir, f"question-{device}")
    check_axe(page, "question page")

    # Næste with the required item missing: the page comes back with the message by the item
    page.get_by_role("button", name="Næste").click()
    expect(page.locator("#err-faggruppe")).to_be_visible()   # waits for the re-shown page
    assert page.locator("#error-summary").evaluate("el => el === document.activeElement")
    shot(page, output_dir, f"error-{device}")
    check_axe(page, "page with an error")

    page.get_by_label("Socialrådgiver").check()
    page.get_by_label("Hvor mange år har du arbejdet på området?").fill("12")
    page.get_by_role("button", name="Næste").click()
    assert page.url.endswith(f"/s/{token}/2")

    scale = page.locator("#item-samarbejde_1")
    scale.get_by_label("I høj grad").check()
    page.locator("#item-samarbejde_2").get_by_label("Ved ikke").check()
    page.get_by_label("Møder").check()
    page.get_by_label("E-mail").check()
    if device == "desktop":
        # the scale is one row of options on a wide screen; "Ved ikke" sits to the right, apart
        boxes = [scale.locator(f"label[for=samarbejde_1-{c}]").bounding_box() for c in (1, 2, 3, 4, 9)]
        assert len({round(b["y"]) for b in boxes[:4]}) == 1
        assert boxes[4]["x"] > boxes[3]["x"] + boxes[3]["width"] + 8
    else:
        # stacked on a phone, each option a large target
        boxes = [scale.locator(f"label[for=samarbejde_1-{c}]").bounding_box() for c in (1, 2, 3, 4, 9)]
        assert all(b2["y"] > b1["y"] for b1, b2 in zip(boxes, boxes[1:]))
        assert all(b["height"] >= 44 for b in boxes)
        assert boxes[4]["y"] - (boxes[3]["y"] + boxes[3]["height"]) > 12  # "Ved ikke" set apart
    assert no_horizontal_scroll(page)
    shot(page, output_dir, f"scale-{device}")
    check_axe(page, "page of scale items")
    page.get_by_role("button", name="Næste").click()

    assert page.url.endswith(f"/s/{token}/3")  # social workers get page 3
    page.get_by_label("Hvor mange sager har du?").fill("25")
    page.get_by_role("button", name="Næste").click()
    page.get_by_label("Hvornår var du sidst på kursus?").fill("2024-05-01")
    page.get_by_label("Har du andre kommentarer?").fill("Godt skema")
    page.get_by_role("button", name="Næste: gennemse svar").click()

    assert page.url.endswith(f"/s/{token}/review")
    body = page.locator("main").inner_text()
    for text in ("Socialrådgiver", "I høj grad", "Ved ikke", "Møder, E-mail", "25", "2024-05-01", "Godt skema"):
        assert text in body
    shot(page, output_dir, f"review-{device}")
    check_axe(page, "review page")
    page.get_by_role("button", name="Indsend").click()

    assert page.url.endswith(f"/s/{token}/done")
    assert page.locator("h1").inner_text().endswith("Tak for dine svar")
    assert page.locator("form").count() == 0
    shot(page, output_dir, f"thanks-{device}")
    check_axe(page, "thank-you page")
    invitation = site["open"]["invitations"]["p1"]
    assert stored_answers(site["db"], invitation) == {
        "faggruppe": 1.0, "anciennitet": 12.0, "samarbejde_1": 4.0, "samarbejde_2": 9.0, "kanaler": "[1, 3]",
        "sr_sager": 25.0, "seneste_kursus": "2024-05-01", "kommentar": "Godt skema"}
    status = site["db"].execute("SELECT status FROM responses WHERE invitation_id = ?", (invitation,)).fetchone()[0]
    assert status == "complete"


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_friendly_pages_for_unknown_and_closed_links(request, device, site, output_dir):
    page = request.getfixturevalue(device)
    response = page.goto(f"{site['url']}/s/{'n' * 43}")
    assert response.status == 404 and page.locator("h1").inner_text() == "Linket virker ikke"
    shot(page, output_dir, f"not-found-{device}")
    check_axe(page, "not-found page")
    response = page.goto(f"{site['url']}/s/{site['closed']['tokens']['p1']}")
    assert response.status == 410 and page.locator("h1").inner_text() == "Spørgeskemaet er lukket"
    shot(page, output_dir, f"closed-{device}")
    check_axe(page, "closed page")


def test_registration_page_on_behalf_of_a_citizen(phone, site, output_dir):
    page = phone
    token = site["citizen"]["tokens"]["p2"]
    page.goto(f"{site['url']}/s/{token}")
    assert page.url.endswith("/register") and "Bo Berg" in page.locator(".about").inner_text()
    shot(page, output_dir, "register-phone")
    check_axe(page, "registration page")
    page.get_by_label("Dit navn").fill("Sagsbehandler Sofie")
    page.get_by_label("Ved et personligt møde").check()
    page.get_by_role("button", name="Næste").click()
    assert page.url.endswith(f"/s/{token}/1") and "Bo Berg" in page.locator(".about").inner_text()
    row = site["db"].execute("SELECT registered_by, registration_mode FROM responses").fetchone()
    assert tuple(row) == ("Sagsbehandler Sofie", "in_person")


def test_show_if_toggles_in_the_browser(desktop, site):
    page = desktop
    token = site["open"]["tokens"]["p2"]
    page.goto(f"{site['url']}/s/{token}/1")
    follow_up = page.locator("#item-faggruppe_andet")
    assert follow_up.is_hidden()
    page.get_by_label("Andet").check()
    assert follow_up.is_visible()
    page.get_by_label("Hvilken anden faggruppe?").fill("Pædagog")
    page.get_by_label("Lærer").check()
    assert follow_up.is_hidden()
    page.get_by_label("Andet").check()
    assert follow_up.is_visible() and page.get_by_label("Hvilken anden faggruppe?").input_value() == "Pædagog"


def test_without_javascript_every_item_shows_and_the_server_ignores_hidden_answers(browser, site):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900}, locale="da-DK")
    page = context.new_page()
    token = site["open"]["tokens"]["p2"]
    page.goto(f"{site['url']}/s/{token}/1")
    assert page.locator("#item-faggruppe_andet").is_visible()
    page.get_by_label("Lærer").check()
    page.get_by_label("Hvilken anden faggruppe?").fill("Pædagog")
    page.get_by_role("button", name="Næste").click()
    assert page.url.endswith(f"/s/{token}/2")
    context.close()
    assert stored_answers(site["db"], site["open"]["invitations"]["p2"]) == {"faggruppe": 2.0}


def test_close_the_tab_and_resume_with_every_answer_in_place(browser, site):
    token = site["open"]["tokens"]["p3"]
    url = f"{site['url']}/s/{token}?lang=da"
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="da-DK")
    page = context.new_page()
    page.goto(url)
    page.get_by_label("Andet").check()
    page.get_by_label("Hvilken anden faggruppe?").fill("Psykolog")
    page.get_by_label("Hvor mange år har du arbejdet på området?").fill("3")
    page.get_by_role("button", name="Næste").click()
    # on page 2 the answers are only autosaved in the background, then the tab is closed
    page.locator("#item-samarbejde_1").get_by_label("I nogen grad").check()
    page.get_by_label("Telefon").check()
    expect(page.locator("#autosave-status")).to_have_text("Dine svar er gemt.")
    context.close()

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="da-DK")
    page = context.new_page()
    page.goto(url)
    assert page.url.endswith(f"/s/{token}/2?lang=da")  # page 2 was not finished
    assert page.locator("#samarbejde_1-3").is_checked() and page.locator("#kanaler-2").is_checked()
    page.get_by_role("button", name="Tilbage").click()
    assert page.url.endswith(f"/s/{token}/1?lang=da")
    assert page.locator("#faggruppe-7").is_checked()
    assert page.get_by_label("Hvilken anden faggruppe?").input_value() == "Psykolog"
    assert page.get_by_label("Hvor mange år har du arbejdet på området?").input_value() == "3"
    context.close()


def test_keyboard_only_and_visible_focus(desktop, site):
    page = desktop
    token = site["open"]["tokens"]["p2"]
    page.goto(f"{site['url']}/s/{token}/1")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "faggruppe":
            break
    assert page.evaluate("document.activeElement.name") == "faggruppe"
    outline = page.evaluate("getComputedStyle(document.activeElement.closest('label')).outlineStyle")
    assert outline == "solid"  # the focused option is outlined
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # radios move with the arrows: Lærer
    page.keyboard.press("Tab")
    page.keyboard.type("4")
    page.keyboard.press("Enter")  # Enter submits with the default button, Næste
    page.wait_for_url(f"**/s/{token}/2")
    assert stored_answers(site["db"], site["open"]["invitations"]["p2"]) == {"faggruppe": 2.0, "anciennitet": 4.0}


@pytest.mark.parametrize("width", [640, 320])
def test_reflows_at_200_percent_zoom(browser, site, width, output_dir):
    """200 % zoom of a 1280 px window is a 640 px layout; WCAG's reflow test is 320 px."""
    context = browser.new_context(viewport={"width": width, "height": 700}, device_scale_factor=2, locale="da-DK")
    page = context.new_page()
    token = site["open"]["tokens"]["p2"]
    page.goto(f"{site['url']}/s/{token}/2")
    assert no_horizontal_scroll(page)
    assert page.get_by_role("button", name="Næste").is_visible()
    if width == 640:
        shot(page, output_dir, "question-zoom200")
    context.close()


def test_english_page_in_the_browser(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{site['url']}/s/{site['open']['tokens']['p1']}/2")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Collaboration"
    check_axe(page, "English question page")
    context.close()


def _autosaved(page):
    return page.expect_response(lambda r: r.request.method == "POST" and r.request.headers.get("x-autosave") == "1")


def test_autosave_then_changing_back_keeps_the_last_choice(desktop, site):
    page = desktop
    token = site["open"]["tokens"]["p2"]
    invitation = site["open"]["invitations"]["p2"]
    page.goto(f"{site['url']}/s/{token}/1")
    page.get_by_label("Lærer").check()
    page.get_by_role("button", name="Næste").click()
    page.get_by_role("button", name="Tilbage").click()
    with _autosaved(page) as saved:
        page.get_by_label("Andet").check()
    assert saved.value.ok
    assert stored_answers(site["db"], invitation)["faggruppe"] == 7.0
    with _autosaved(page) as saved:
        page.get_by_label("Lærer").check()  # back to the answer the page was loaded with
    assert saved.value.ok
    assert stored_answers(site["db"], invitation)["faggruppe"] == 2.0
    page.get_by_role("button", name="Næste").click()
    assert stored_answers(site["db"], invitation) == {"faggruppe": 2.0}


def test_two_tabs_on_the_same_link_lose_no_answer(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="da-DK")
    tab_a, tab_b = context.new_page(), context.new_page()
    token = site["open"]["tokens"]["p2"]
    tab_a.goto(f"{site['url']}/s/{token}/1")
    tab_b.goto(f"{site['url']}/s/{token}/1")
    with _autosaved(tab_a):
        tab_a.get_by_label("Hvor mange år har du arbejdet på området?").fill("8")
        tab_a.get_by_label("Hvor mange år har du arbejdet på området?").blur()
    tab_b.get_by_label("Socialrådgiver").check()
    tab_b.get_by_role("button", name="Næste").click()
    tab_b.wait_for_url(f"**/s/{token}/2")
    context.close()
    assert site["db"].execute("SELECT COUNT(*) FROM responses WHERE invitation_id = ?",
                              (site["open"]["invitations"]["p2"],)).fetchone()[0] == 1
    assert stored_answers(site["db"], site["open"]["invitations"]["p2"]) == {"faggruppe": 1.0, "anciennitet": 8.0}
