"""LAN mode (`--lan`), as on a phone on the same Wi-Fi: the app's LAN address over HTTPS, its self-signed
certificate accepted, nothing answering without the login, and with it a chat and a spoken question answered
by voice in a real browser. One LAN app serves the module (starting one takes 8-10 s)."""

from __future__ import annotations

import base64
import re

import httpx
import ifaddr
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import REAL_TIME, RunningApp
from tests.e2e.conftest import received_energy, start_talking, wait_for_voice_from_app
from tests.privacy.voice_turn import LoggedInSession
from tests.voice.conftest import QUESTION

LOGIN = {"username": "sam", "password": "kite-flying-42"}
PROTECTED = [
    ("GET", "/"),
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data?session_hash=x"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file=/etc/hostname"),
    ("POST", "/gradio_api/component_server"),  # the Voice tab's WebRTC signalling goes through here
    ("POST", "/gradio_api/run/chat"),
    ("GET", "/theme.css"),
]


def lan_address() -> str:
    """This machine's first non-loopback IPv4 address (what a phone would type), else loopback."""
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    return "127.0.0.1"


@pytest.fixture(scope="module")
def lan_app(tmp_path_factory, module_ollama, ggml_tiny_en, piper_voice_path):
    voice_models = {"AVATAR_STT_MODEL": str(ggml_tiny_en), "AVATAR_TTS_VOICE": str(piper_voice_path)}
    data = tmp_path_factory.mktemp("lan-app") / "data"
    args = ["--data-dir", str(data), "--ollama-host", module_ollama.url, "--lan", "--auth"]
    app = RunningApp([*args, f"{LOGIN['username']}:{LOGIN['password']}"], voice_models).start()
    yield app
    output = app.stop()
    assert LOGIN["password"] not in output  # a chosen password is never printed


def test_lan_mode_serves_https_and_every_route_needs_the_login(lan_app):
    assert lan_app.url.startswith("https://")
    with httpx.Client(verify=False, timeout=10) as client:
        for method, path in PROTECTED:
            response = client.request(method, lan_app.url + path)
            assert response.status_code == 401, (method, path, response.status_code)
        page = client.get(lan_app.url + "/", auth=(LOGIN["username"], LOGIN["password"]))
        assert page.status_code == 200 and "Local Avatar" in page.text
        assert client.get(lan_app.url + "/config", auth=(LOGIN["username"], "wrong")).status_code == 401


def test_lan_mode_chat_works_with_the_login(lan_app, ollama):
    from gradio_client import Client

    ollama.script("Hello from across the network.")
    # HTTP Basic: scripts send the header themselves (gradio_client's auth= is Gradio's own login form).
    login = "Basic " + base64.b64encode(f"{LOGIN['username']}:{LOGIN['password']}".encode()).decode()
    client = Client(lan_app.url, headers={"Authorization": login}, ssl_verify=False, verbose=False)
    final = list(client.submit("hi", "aria", "", api_name="/chat"))[-1]
    assert final["reply"] == "Hello from across the network."


@pytest.mark.e2e
@pytest.mark.slow
@REAL_TIME  # a spoken call, like test_voice_browser.py
def test_talking_over_the_lan_needs_the_login(lan_app, ollama, talking_page):
    app = lan_app
    url = app.url.replace("127.0.0.1", lan_address())
    ollama.script("Paris is the capital of France.")
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
