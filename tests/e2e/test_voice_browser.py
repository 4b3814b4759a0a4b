"""A person talking in a real browser: Chromium's fake microphone plays a spoken question into the Voice tab."""

from __future__ import annotations

import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest

from avatar.speech.audio import to_int16, to_mono_16k
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, OFFLINE_FLAGS, screenshot
from tests.speech.conftest import ggml_tiny_en, piper_voice_path, tts  # noqa: F401  (session fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTION = "What is the capital of France?"


def write_wav(path: Path, audio: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(to_int16(audio).tobytes())
    return path


@pytest.fixture
def talking_browser(tts, tmp_path: Path):  # noqa: F811
    """Chromium whose microphone says QUESTION once (after 3 s of silence: time to connect), then stays quiet."""
    if CHROMIUM is None:
        pytest.skip("no Chromium found (apt-get install chromium); the browser tests need it")
    from playwright.sync_api import sync_playwright

    rate, said = tts.synthesize(QUESTION)
    audio = to_mono_16k(said, rate, 48_000)
    silence = np.zeros(3 * 48_000, np.float32)
    wav = write_wav(tmp_path / "question.wav", np.concatenate([silence, audio, silence, silence]), 48_000)
    flags = [
        *OFFLINE_FLAGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=flags, viewport={"width": 1280, "height": 900}
        )
        context.grant_permissions(["microphone"])
        page = context.pages[0] if context.pages else context.new_page()
        page.requested_urls = []  # type: ignore[attr-defined]
        page.on("request", lambda r: page.requested_urls.append(r.url))  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()


def test_talking_in_the_voice_tab(launch_app, fake_ollama, talking_browser, ggml_tiny_en, piper_voice_path):  # noqa: F811
    fake_ollama.script("Paris is the capital of France.")
    app = launch_app(env={"AVATAR_STT_MODEL": str(ggml_tiny_en), "AVATAR_TTS_VOICE": str(piper_voice_path)})
    page = talking_browser
    page.goto(app.url)
    page.locator("#chatbot").get_by_text("How's your day been").wait_for()
    page.get_by_role("tab", name="Voice").click()
    page.locator("#voice-models").get_by_text("Voice ready").wait_for(timeout=60_000)
    try:
        webrtc = page.locator("#voice-webrtc")
        webrtc.get_by_role("button", name="Click to Access Microphone").click()
        webrtc.get_by_text("Start talking").click()
        voice_chat = page.locator("#voice-chatbot")
        voice_chat.get_by_text(QUESTION).wait_for(timeout=30_000)
        voice_chat.get_by_text("Paris is the capital of France.").wait_for(timeout=30_000)
        page.locator("#voice-latency").get_by_text("complete").first.wait_for(timeout=30_000)
        screenshot(page, "voice-tab")
    except Exception:
        screenshot(page, "FAILED-voice-tab")
        raise
    # The Chat tab shows the same conversation.
    page.get_by_role("tab", name="Chat").click()
    page.locator("#chatbot").get_by_text(QUESTION).wait_for()
    remote = [u for u in page.requested_urls if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert remote == []
