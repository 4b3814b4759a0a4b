"""A person in a real browser: the Personas tab lists characters, creates one, and imports a card."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tests.personas.cardkit import b64json, png, v2_card

pytestmark = pytest.mark.e2e


def test_create_a_persona_and_import_a_card(launch_app, browser_page, tmp_path):
    page = browser_page
    app = launch_app()
    card = tmp_path / "Seraphina.png"
    card.write_bytes(png({"chara": b64json(v2_card())}, size=(200, 300)))

    page.goto(app.url)
    page.locator("#chatbot").get_by_text("How's your day been").wait_for()
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

    page.locator("#persona-import input[type=file]").set_input_files(str(card))
    page.locator("#persona-status").get_by_text("Imported Seraphina.").wait_for(timeout=15_000)
    gallery.get_by_text("Seraphina").wait_for()
    page.locator("#persona-heading").get_by_role("heading", name="Seraphina").wait_for()
    screenshot(page, "personas-tab")

    gallery.get_by_text("Nova Starling").click()
    page.locator("#persona-heading").get_by_role("heading", name="Nova Starling").wait_for()
    assert page.locator("#persona-name").get_by_role("textbox").input_value() == "Nova Starling"

    remote = [u for u in page.requested_urls if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert remote == []
