"""`--lan` and the Voice tab: the WebRTC signalling refuses anyone without the login, and a person who
has logged in talks to the avatar over HTTPS (what a phone on the same Wi-Fi does)."""

from __future__ import annotations

import asyncio

import httpx

from tests.privacy.voice_turn import LoggedInSession, replies_shown, spoken_turn
from tests.voice.conftest import QUESTION

LOGIN = ("sam", "kite-flying-42")
# Where a page can send a WebRTC offer: Gradio's component server (what the Voice tab uses) and
# FastRTC's own route, in case it is ever mounted.
SIGNALLING = ["/gradio_api/component_server", "/webrtc/offer"]


def test_voice_over_lan_needs_the_login_and_works_with_it(
    launch_app, fake_ollama, speech, ggml_tiny_en, piper_voice_path
):
    voice_models = {"AVATAR_STT_MODEL": str(ggml_tiny_en), "AVATAR_TTS_VOICE": str(piper_voice_path)}
    app = launch_app("--lan", "--auth", ":".join(LOGIN), env=voice_models)
    assert app.url.startswith("https://")
    session = LoggedInSession(app.url, LOGIN)
    offer = {
        "component_id": session.component_id("voice-webrtc"),
        "fn_name": "offer",
        "session_hash": "stranger",
        "data": {"sdp": "v=0\r\n", "type": "offer", "webrtc_id": "stranger"},
    }
    with httpx.Client(verify=False, timeout=30) as stranger:
        for path in SIGNALLING:
            assert stranger.post(app.url + path, json=offer).status_code == 401, path
            assert stranger.post(app.url + path, json=offer, auth=("sam", "guess")).status_code == 401, path

    fake_ollama.script("Paris is the capital of France.")
    call = asyncio.run(spoken_turn(session, speech.at(QUESTION, 48_000)))
    assert replies_shown(call)[-1] == "Paris is the capital of France."  # and heard: spoken_turn waits for it
