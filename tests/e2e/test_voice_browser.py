"""A person talking in a real browser: Chromium's fake microphone plays a WAV file into the Voice tab:
a few seconds of silence (time to press the buttons and connect), then sentences with pauses between."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from avatar.conversations.schemas import MessageStatus
from tests.conftest import REAL_TIME
from tests.e2e.conftest import (
    conversations,
    received_energy,
    screenshot,
    start_talking,
    wait_for_voice_from_app,
)
from tests.voice.conftest import INTERRUPTION, QUESTION

pytestmark = [pytest.mark.e2e, pytest.mark.slow, REAL_TIME]

LONG_REPLY = " ".join(f"Here is sentence number {i} of a very long story." for i in range(40))
STORY_REQUEST = "Tell me a long story."


def test_talking_in_the_voice_tab(app, model_server, talking_page):
    model_server.script("Paris is the capital of France.")
    page = talking_page(app.url, (QUESTION, 6.0))
    start_talking(page, app.url)
    voice_chat = page.locator("#voice-chatbot")
    face = page.locator("#call-face img")
    face.wait_for(timeout=30_000)  # the call screen shows Aria's face from the start
    portrait = face.get_attribute("src")
    # A new chat: the call opens with Aria's greeting (spoken, and shown), which the question talks over.
    voice_chat.get_by_text("I was just sketching", exact=False).wait_for(timeout=30_000)
    # While the greeting plays, the face follows the sound the page plays (measured by its AnalyserNode).
    page.wait_for_function("window.__callLevelMax > 0.05", timeout=30_000)
    # FastRTC's own sound wave is in the page but not drawn: redrawn every frame, it kept half a core busy.
    wave = page.locator("#voice-webrtc .wave-container")
    assert wave.count() >= 1
    expect(wave.first).to_be_hidden()
    # (said over the greeting: tiny.en may hear "What's the capital..."; the words that matter are checked)
    voice_chat.get_by_text(re.compile(r"capital of France", re.IGNORECASE)).first.wait_for(timeout=30_000)
    greeted = received_energy(page)
    voice_chat.get_by_text("Paris is the capital of France.").wait_for(timeout=30_000)
    page.locator("#voice-latency").get_by_text("complete").first.wait_for(timeout=30_000)
    wait_for_voice_from_app(page, more_than=greeted)  # the answer was heard too, not only the greeting
    # The call screen shows the reply's expression: the label saved with the reply, and its sprite.
    service = conversations(app)
    # The newest such reply (UUIDv7 ids sort by time): a retry of this test finds the first try's too.
    reply = max(
        (m for c in service.list() for m in service.messages(c.id) if m.content == "Paris is the capital of France."),
        key=lambda m: m.id,
    )
    assert reply.emotion is not None
    page.locator("#call-expression").get_by_text(reply.emotion).wait_for(timeout=30_000)
    assert face.get_attribute("src") != portrait
    page.wait_for_function("document.querySelector('#call-screen').dataset.state === 'listening'", timeout=30_000)
    # Nor does the page's side of the call ask a STUN or TURN server anywhere for its address.
    ice_servers = page.evaluate("window.__peerConnections.map(pc => pc.getConfiguration().iceServers || [])")
    assert ice_servers and all(servers == [] for servers in ice_servers), ice_servers
    screenshot(page, "voice-tab")

    # The Chat tab shows the same conversation.
    page.get_by_role("tab", name="Chat").click()
    page.locator("#chatbot").get_by_text(re.compile(r"capital of France", re.IGNORECASE)).first.wait_for()


def test_talking_over_a_reply_interrupts_it(app, model_server, talking_page):
    model_server.token_delay_s = 0.08  # a slow model: still writing when the user talks over it
    model_server.script(LONG_REPLY, "Of course, I will stop.")
    # The pause after the request is long enough for the reply to be under way, far from its end.
    page = talking_page(app.url, (STORY_REQUEST, 7.0), (INTERRUPTION, 5.0))
    start_talking(page, app.url)
    voice_chat = page.locator("#voice-chatbot")
    voice_chat.get_by_text("Here is sentence number 0").wait_for(timeout=30_000)
    voice_chat.get_by_text("Wait, stop for a moment", exact=False).wait_for(timeout=30_000)
    voice_chat.get_by_text("Of course, I will stop.").wait_for(timeout=30_000)
    page.locator("#voice-latency").get_by_text("interrupted").first.wait_for(timeout=30_000)
    expect(voice_chat.get_by_text("Of course, I will stop.")).to_be_in_viewport(timeout=5_000)  # scrolled to it
    screenshot(page, "voice-tab-interrupted")

    assert model_server.wait_for_event("chat_closed_by_client", 5), "the model's stream was not closed"
    service = conversations(app)
    # This scenario's conversation (the app is shared): the one the long reply went to.
    every = [service.messages(conversation.id) for conversation in service.list()]
    [messages] = [said for said in every if any(m.content.startswith("Here is sentence number 0") for m in said)]
    interrupted = [message for message in messages if message.status is MessageStatus.interrupted]
    assert len(interrupted) == 1
    heard = interrupted[0].content
    # What was saved is what the person heard before talking: the start of the reply, not all of it.
    assert heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY) / 2, heard
