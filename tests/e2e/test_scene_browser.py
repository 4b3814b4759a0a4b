"""A person in a real browser puts Aria, Captain Vega and Professor Quill in one world and talks with them."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import conversations, open_app, screenshot, send
from tests.worlds.worldkit import meridian_world_info

pytestmark = pytest.mark.e2e

FACES_LOADED = """() => {
  const faces = [...document.querySelectorAll('#chatbot img.scene-face')];
  return faces.length >= 2 && faces.every((img) => img.complete && img.naturalWidth > 0);
}"""


def test_create_a_scene_in_a_world_and_chat_in_it(app, model_server, browser_page, tmp_path):
    page = browser_page
    open_app(page, app.url)
    page.get_by_text("New scene", exact=True).click()
    # The world comes from a SillyTavern World Info file.
    world_file = tmp_path / "Meridian.json"
    world_file.write_text(json.dumps(meridian_world_info()))
    page.get_by_text("World details").click()
    page.locator("#world-import input[type=file]").set_input_files(str(world_file))
    page.locator("#world-notice").get_by_text("Imported Meridian: 3 lorebook entries").wait_for()
    for name in ("Aria", "Captain Vega", "Professor Quill"):
        page.locator("#scene-cast").get_by_label(name).check()
    page.locator("#scene-start").click()
    chat = page.locator("#chatbot")
    chat.get_by_text("I was just sketching and thought of you").wait_for()
    page.locator("#scene-bar").wait_for()
    for name in ("Ask Aria", "Ask Captain Vega", "Ask Professor Quill"):
        page.get_by_role("button", name=name).wait_for()
    page.locator("#conversation-list").get_by_text("Scene: New chat").wait_for()

    model_server.script("Course is set for the comet field, rookie.")
    send(page, "Vega, where is the Meridian headed?", "Course is set for the comet field")
    chat.locator("strong", has_text="Captain Vega").wait_for()
    page.wait_for_function(FACES_LOADED, timeout=10_000)  # each reply under its speaker's face
    sent = model_server.chat_requests()[-1].body["messages"]
    assert sent[0]["content"].startswith("You are Captain Vega.") and "## The world: Meridian" in sent[0]["content"]

    model_server.script("A comet! Let me tell you about ice and dust.")
    page.get_by_role("button", name="Ask Professor Quill").click()
    chat.get_by_text("Let me tell you about ice and dust.").wait_for()
    chat.locator("strong", has_text="Professor Quill").wait_for()

    model_server.script("I'll sketch it.", "Mind the hull.")
    page.locator("#scene-talk-count input[type=number]").fill("2")
    page.locator("#scene-talk-count input[type=number]").press("Enter")
    page.get_by_role("button", name="Let them talk").click()
    chat.get_by_text("Mind the hull.").wait_for()
    page.wait_for_timeout(500)
    assert len(model_server.chat_requests()) == 4  # two replies, the cap set
    screenshot(page, "chat-scene")
    # The app is shared with the browser tests after this one: the scene goes, as a user deletes it. (With it
    # left, the Voice tab test's call showed no expression on the call screen: see the session notes.)
    service = conversations(app)
    for scene in [c for c in service.list() if c.is_scene]:
        service.delete(scene.id)
