"""A person in a real browser: open the page, pick a character, chat, reload, and nothing remote loads."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def pick_persona(page, name: str) -> None:
    """Choose a character in the Chat tab's dropdown. Gradio's dropdown can re-render while the page's
    load events are still arriving and close itself; a person would click again, so do we."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):
        page.get_by_role("listbox", name="Character", exact=True).click()
        try:
            page.get_by_role("option", name=name).click(timeout=2_000)
            return
        except PlaywrightTimeout:
            page.locator("#chatbot").click()  # close it; focus elsewhere so the next click opens it again
            page.wait_for_timeout(300)
    raise AssertionError(f"could not pick {name} in the Character dropdown")


def test_chat_streams_and_history_survives_reload(launch_app, fake_ollama, browser_page):
    page = browser_page
    app = launch_app()
    fake_ollama.token_delay_s = 0.02
    fake_ollama.script("Ahoy, rookie! The coffee is still terrible, but the stars are out.")

    page.goto(app.url)
    page.locator("#chatbot").get_by_text("How's your day been").wait_for()  # loaded: Aria's greeting
    pick_persona(page, "Captain Vega")
    chat = page.locator("#chatbot")
    chat.get_by_text("something is following us").wait_for()

    page.locator("#message-box textarea").fill("Permission to come aboard?")
    page.locator("#message-box textarea").press("Enter")
    chat.get_by_text("the stars are out.").wait_for(timeout=15_000)
    chat.get_by_text("Permission to come aboard?").wait_for()
    screenshot(page, "chat-tab")

    page.reload()
    page.locator("#chatbot").get_by_text("How's your day been").wait_for()
    pick_persona(page, "Captain Vega")
    page.locator("#chatbot").get_by_text("the stars are out.").wait_for()
    page.locator("#conversation-list").get_by_text("Permission to come aboard?").wait_for()

    remote = [u for u in page.requested_urls if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert remote == []


def test_banner_tells_how_to_fix_a_missing_model(launch_app, fake_ollama, browser_page):
    fake_ollama.models.clear()
    page = browser_page
    page.goto(launch_app().url)
    page.locator("#status-banner").get_by_text("Model missing").wait_for()
    page.get_by_role("button", name="Pull llama3.2:3b").click()
    page.get_by_text("llama3.2:3b is ready.").wait_for(timeout=15_000)
    page.locator("#status-banner").wait_for(state="hidden")


def test_html_and_scripts_in_messages_stay_inert(launch_app, fake_ollama, browser_page):
    page = browser_page
    payload = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> **bold**'
    fake_ollama.script(f'Echo: <img src=y onerror="window.__xss=3"> <a href="javascript:window.__xss=4">link</a>')
    page.goto(launch_app().url)
    page.locator("#chatbot").get_by_text("How's your day been").wait_for()
    page.locator("#message-box textarea").fill(payload)
    page.locator("#message-box textarea").press("Enter")
    page.locator("#chatbot").get_by_text("Echo:").wait_for(timeout=15_000)
    page.locator("#chatbot a", has_text="link").click(timeout=5_000, no_wait_after=True)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#chatbot script").count() == 0
    assert page.locator("#chatbot img[onerror]").count() == 0
