"""LAN mode in a real browser, as on a phone on the same Wi-Fi: the app's LAN address over HTTPS, its
self-signed certificate accepted, nothing shown without the login, and with it a spoken question
answered by voice."""

from __future__ import annotations

import re

import httpx
import ifaddr
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import REAL_TIME
from tests.e2e.conftest import received_energy, start_talking, wait_for_voice_from_app
from tests.privacy.voice_turn import LoggedInSession
from tests.voice.conftest import QUESTION

pytestmark = [pytest.mark.e2e, pytest.mark.slow, REAL_TIME]  # a spoken call, like test_voice_browser.py

LOGIN = {"username": "sam", "password": "kite-flying-42"}


def lan_address() -> str:
    """This machine's first non-loopback IPv4 address (what a phone would type), else loopback."""
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    return "127.0.0.1"


def test_talking_over_the_lan_needs_the_login(launch_app, fake_ollama, talking_page, ggml_tiny_en, piper_voice_path):
    voice_models = {"AVATAR_STT_MODEL": str(ggml_tiny_en), "AVATAR_TTS_VOICE": str(piper_voice_path)}
    app = launch_app("--lan", "--auth", f"{LOGIN['username']}:{LOGIN['password']}", env=voice_models)
    url = app.url.replace("127.0.0.1", lan_address())
    fake_ollama.script("Paris is the capital of France.")
    page = talking_page(url, (QUESTION, 6.0), ignore_https_errors=True, http_credentials=LOGIN)

    # A browser without the login is refused (Chromium, with no one to ask, fails the navigation).
    stranger = page.context.browser.new_context(ignore_https_errors=True)
    try:
        with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
            stranger.new_page().goto(url)
        assert stranger.request.get(url).status == 401
    finally:
        stranger.close()
    # Nor can anyone without it offer a WebRTC call: Gradio's component server (what the Voice tab uses) and
    # FastRTC's own route, in case it is ever mounted.
    session = LoggedInSession(app.url, (LOGIN["username"], LOGIN["password"]))
    offer = {
        "component_id": session.component_id("voice-webrtc"),
        "fn_name": "offer",
        "session_hash": "stranger",
        "data": {"sdp": "v=0\r\n", "type": "offer", "webrtc_id": "stranger"},
    }
    with httpx.Client(verify=False, timeout=30) as outsider:
        for path in ("/gradio_api/component_server", "/webrtc/offer"):
            assert outsider.post(app.url + path, json=offer).status_code == 401, path
            wrong = (LOGIN["username"], "guess")
            assert outsider.post(app.url + path, json=offer, auth=wrong).status_code == 401, path

    start_talking(page, url)
    assert page.evaluate("window.isSecureContext")  # the microphone is only offered in a secure context
    voice_chat = page.locator("#voice-chatbot")
    # (said over the greeting: tiny.en may hear "What's the capital..."; the words that matter are checked)
    voice_chat.get_by_text(re.compile(r"capital of France", re.IGNORECASE)).first.wait_for(timeout=30_000)
    greeted = received_energy(page)  # a new chat's call opens with the greeting, which the question talked over
    voice_chat.get_by_text("Paris is the capital of France.").wait_for(timeout=30_000)
    wait_for_voice_from_app(page, more_than=greeted)
