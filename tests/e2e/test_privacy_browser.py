"""A person in a real browser: the Privacy tab says what stays local, exports downloads an archive and a
fine-tuning file, and erasing asks first and then really erases."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.e2e.conftest import conversations, new_chat, open_app, pick_persona, screenshot, send

pytestmark = pytest.mark.e2e

SAID = "My thesis is about moss on north-facing walls."


def quill_conversations(app) -> list:
    return [c for c in conversations(app).list() if c.persona_id == "professor-quill"]


def download(page, button: str, notice: str, tmp_path):
    """Press an export button, wait for its notice, click the download link; returns the file downloaded."""
    page.locator(button).click()
    page.locator("#privacy-export-notice").get_by_text(notice).wait_for(timeout=30_000)
    link = page.locator("#privacy-download a").first
    with page.expect_download() as started:
        link.click()
    path = tmp_path / started.value.suggested_filename
    started.value.save_as(path)
    return path


def test_export_downloads_and_erase_asks_first(app, model_server, browser_page, tmp_path):
    page = browser_page
    model_server.script("A splendid subject, my dear.")
    open_app(page, app.url)
    pick_persona(page, "Professor Quill")
    new_chat(page)
    send(page, SAID, "A splendid subject")

    page.get_by_role("tab", name="Privacy").click()
    page.locator("#privacy-checklist").get_by_text("127.0.0.1 only").wait_for()

    archive = download(page, "#privacy-export", "Your export is ready", tmp_path)
    with zipfile.ZipFile(archive) as opened:
        exported = [json.loads(line) for line in opened.read("conversations.jsonl").splitlines()]
    assert any(m["content"] == SAID for c in exported for m in c["messages"])

    dataset = download(page, "#privacy-finetune", "exported as a fine-tuning dataset", tmp_path)
    assert dataset.suffix == ".jsonl"
    rows = [json.loads(line) for line in dataset.read_text().splitlines()]
    assert rows and all(row["messages"] for row in rows)
    assert any(m["content"] == SAID for row in rows for m in row["messages"])

    before = len(quill_conversations(app))
    assert before >= 1
    page.locator("#privacy-erase-what").get_by_text("Delete all of this character's conversations").click()
    page.locator("#privacy-erase").click()
    page.locator("#privacy-erase-notice").get_by_text("This cannot be undone").wait_for()
    assert "Professor Quill" in page.locator("#privacy-erase-notice").inner_text()
    screenshot(page, "privacy-tab")
    assert len(quill_conversations(app)) == before  # asking erased nothing

    page.locator("#privacy-confirm-erase").click()
    word = "conversation" if before == 1 else "conversations"
    page.locator("#privacy-erase-notice").get_by_text(f"Deleted {before} {word}.").wait_for()
    page.locator("#privacy-confirm-erase").wait_for(state="hidden")
    assert quill_conversations(app) == []

    # The Chat tab, reloaded: the Professor starts afresh, with no conversation to pick.
    open_app(page, app.url)
    pick_persona(page, "Professor Quill")
    page.locator("#chatbot").get_by_text("Mind the books").wait_for()
    assert page.locator("#chatbot").get_by_text(SAID).count() == 0
    assert page.locator("#conversation-list input").count() == 0
