"""A person in a real browser: the Personas tab lists characters, creates one, edits it, imports a card."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import open_app, screenshot
from tests.personas.cardkit import b64json, png, v2_card

pytestmark = pytest.mark.e2e


def test_create_edit_and_import_characters(app, browser_page, tmp_path):
    page = browser_page
    card = tmp_path / "Seraphina.png"
    card.write_bytes(png({"chara": b64json(v2_card())}, size=(200, 300)))

    open_app(page, app.url)
    page.get_by_role("tab", name="Personas").click()
    gallery = page.locator("#persona-gallery")
    gallery.get_by_text("Captain Vega").wait_for()
    page.locator("#persona-heading").get_by_role("heading", name="Aria").wait_for()  # the first one is open

    page.locator("#persona-new").click()
    page.locator("#persona-heading").get_by_role("heading", name="New character").wait_for()
    page.locator("#persona-name").get_by_role("textbox").fill("Nova Starling")
    page.locator("#persona-tagline").get_by_role("textbox").fill("A test pilot who laughs at danger.")
    page.locator("#persona-greeting").get_by_role("textbox").fill("Strap in, {{user}}!")
    page.locator("#persona-save").click()
    page.locator("#persona-status").get_by_text("Created Nova Starling.").wait_for()
    gallery.get_by_text("Nova Starling").wait_for()

    # Edit: a new tagline, saved, is what the character shows from then on (and after a reload).
    page.locator("#persona-tagline").get_by_role("textbox").fill("A retired test pilot who still laughs at danger.")
    page.locator("#persona-save").click()
    page.locator("#persona-status").get_by_text("Saved Nova Starling.").wait_for()

    page.locator("#persona-import input[type=file]").set_input_files(str(card))
    page.locator("#persona-status").get_by_text("Imported Seraphina.").wait_for(timeout=15_000)
    gallery.get_by_text("Seraphina").wait_for()
    page.locator("#persona-heading").get_by_role("heading", name="Seraphina").wait_for()
    screenshot(page, "personas-tab")

    open_app(page, app.url)  # loaded again, and its load events over: a click before them can be lost
    page.get_by_role("tab", name="Personas").click()
    page.locator("#persona-heading").get_by_role("heading").first.wait_for()
    gallery.get_by_text("Nova Starling").click()
    page.locator("#persona-heading").get_by_role("heading", name="Nova Starling").wait_for()
    assert page.locator("#persona-name").get_by_role("textbox").input_value() == "Nova Starling"
    tagline = page.locator("#persona-tagline").get_by_role("textbox")
    assert tagline.input_value() == "A retired test pilot who still laughs at danger."
