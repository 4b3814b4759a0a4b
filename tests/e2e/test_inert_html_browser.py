"""HTML and scripts hidden in a character card stay inert in the browser: in the character's fields and
greeting, and in the memories its lorebook becomes (the Memory tab's table and its recall view)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import open_app, pick_persona, send, wait_for_memory
from tests.personas.cardkit import v2_card

pytestmark = pytest.mark.e2e

LORE = 'The vault <img src=x onerror="window.__xss=1"> opens at dawn <script>window.__xss=2</script>.'
HOSTILE_FIELDS = {
    "name": "Mallory",
    "description": '{{char}} guards a vault. <img src=x onerror="window.__xss=3">',
    "first_mes": 'Welcome. <img src=x onerror="window.__xss=4"><script>window.__xss=5</script> **Mind the vault.**',
    "creator_notes": '<a href="javascript:window.__xss=6">notes</a>',
    "tags": ["<b onmouseover=window.__xss=7>tag</b>"],
    "character_book": {"entries": [{"keys": ["vault"], "content": LORE, "enabled": True, "insertion_order": 1}]},
}


def assert_inert(page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[onerror], b[onmouseover]").count() == 0
    assert page.evaluate("[...document.scripts].some(s => s.textContent.includes('__xss'))") is False


def test_html_in_a_card_and_its_memories_stays_inert(app, model_server, browser_page, tmp_path):
    page = browser_page
    card = tmp_path / "mallory.json"
    card.write_text(json.dumps(v2_card(**HOSTILE_FIELDS)))
    model_server.script("The vault? I know nothing.")

    open_app(page, app.url)
    page.get_by_role("tab", name="Personas").click()
    page.locator("#persona-import input[type=file]").set_input_files(str(card))
    page.locator("#persona-status").get_by_text("Imported Mallory.").wait_for(timeout=15_000)
    assert_inert(page)

    page.get_by_role("tab", name="Memory").click()
    wait_for_memory(page, "opens at dawn")  # the lorebook entry, now a memory
    assert_inert(page)

    page.get_by_role("tab", name="Chat").click()
    pick_persona(page, "Mallory")
    page.locator("#chatbot").get_by_text("Mind the vault.").wait_for()
    send(page, "Tell me about the vault.", "I know nothing.")
    assert_inert(page)

    page.get_by_role("tab", name="Memory").click()
    page.locator("#memory-recall-refresh").click()
    page.locator("#memory-recall").get_by_text("opens at dawn").first.wait_for(timeout=15_000)
    assert_inert(page)
