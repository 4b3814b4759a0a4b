"""A person in a real browser: chat a little, open the Memory tab, see what was remembered and why, delete a memory."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import new_chat, open_app, screenshot, send, wait_for_memory
from tests.memory.conftest import card, cards_json

pytestmark = pytest.mark.e2e

CARD = "The user is training for the Lisbon half marathon."


def test_memories_appear_in_the_memory_tab_and_can_be_deleted(app, model_server, browser_page):
    page = browser_page
    model_server.script("Oh nice, how far do you run?", "That's a big goal!", "You'll be ready.", "In October, right?")
    # Conversations of earlier scenarios in the shared app may have their cards made meanwhile: enough for all.
    model_server.script_structured(*[cards_json(card(CARD, type="event", importance=0.8))] * 5)

    open_app(page, app.url)
    new_chat(page)
    assert page.locator("#memory-switch input[type=checkbox]").is_checked()  # a chat remembers by default
    send(page, "I started running every morning.", "how far do you run?")
    send(page, "I'm training for the Lisbon half marathon.", "That's a big goal!")
    send(page, "It's in October.", "You'll be ready.")

    page.get_by_role("tab", name="Memory").click()
    table = page.locator("#memory-table")
    wait_for_memory(page, CARD)
    table.get_by_text("Lisbon half marathon.").first.wait_for()

    # Ask about it in the chat: the reply's recall shows up under "What did you remember?".
    page.get_by_role("tab", name="Chat").click()
    send(page, "When is my race again?", "In October, right?")
    page.get_by_role("tab", name="Memory").click()
    page.locator("#memory-recall").get_by_text(CARD).wait_for()

    table.get_by_text(CARD).click()
    page.locator("#memory-info").get_by_text("Why it was stored:").wait_for()
    page.locator("#memory-sources").get_by_text("I'm training for the Lisbon half marathon.").first.wait_for()
    assert page.locator("#memory-text textarea").input_value() == CARD
    screenshot(page, "memory-tab")

    page.locator("#memory-delete").click()
    page.locator("#memory-confirm-delete").click()
    page.locator("#memory-status").get_by_text("Deleted.").wait_for()
    table.get_by_text(CARD).wait_for(state="detached")
