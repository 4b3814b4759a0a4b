"""Browser fixtures: one app for the whole browser suite, Debian's Chromium driven by Playwright and kept
off the network, every request each page makes recorded and checked, screenshots as artifacts.

The scenarios share one launched app (starting one, and loading its models, costs seconds each time);
each scenario gets a fresh browser context (no cookies, no storage) and starts its own conversation
where it needs one. The fake model server is shared too, and reset before each scenario.
"""

from __future__ import annotations

import re
import shutil
import wave
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest

from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.core.settings import PROJECT_ROOT
from avatar.speech.audio import to_int16
from tests.conftest import AppWithData
from tests.speech.conftest import ggml_tiny_en, piper_voice_path, tts  # noqa: F401  (session fixtures)
from tests.support.fake_model_server import FakeModelServer
from tests.voice.conftest import speech, steady_piper  # noqa: F401  (session fixtures)

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MIC_RATE = 48_000

# Flags that keep Chromium from calling home (updates, sync, safe browsing lists, field trials).
OFFLINE_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-quic",
    "--no-sandbox",
    "--disable-gpu",
]

# Keeps every RTCPeerConnection the page makes, so a test can read the WebRTC stats of what came back.
KEEP_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original) return;
  window.__peerConnections = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__peerConnections.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();
"""


@pytest.fixture(scope="session")
def e2e_model_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()


@pytest.fixture
def model_server(e2e_model_server: FakeModelServer) -> FakeModelServer:
    """The shared fake Ollama, as a fresh one: no scripted replies, no recorded requests, the model present."""
    server = e2e_model_server
    server.models[:] = ["llama3.2:3b"]
    server.token_delay_s = 0.0
    server.clear_scripts()
    server._structured.clear()
    server.requests.clear()
    server.events.clear()
    return server


@pytest.fixture(scope="session")
def app(tmp_path_factory, e2e_model_server, ggml_tiny_en, piper_voice_path) -> Iterator[AppWithData]:  # noqa: F811
    """`python app.py` with the test speech models, once for every browser scenario."""
    if CHROMIUM is None:
        pytest.skip("no Chromium found (apt-get install chromium); the browser tests need it")
    voice_models = {"AVATAR_STT_MODEL": str(ggml_tiny_en), "AVATAR_TTS_VOICE": str(piper_voice_path)}
    running = AppWithData(tmp_path_factory.mktemp("e2e-app"), e2e_model_server.url, voice_models)
    yield running.start()
    running.stop()


def conversations(app: AppWithData) -> ConversationService:
    """The app's saved conversations, read from its database as the app wrote them."""
    return ConversationService(open_database(app.data_dir / "avatar.db"))


@pytest.fixture(scope="module")
def playwright():
    if CHROMIUM is None:
        pytest.skip("no Chromium found (apt-get install chromium); the browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


def launch_chromium(playwright, microphone_wav: Path | None = None):
    """Headless Chromium with a fresh profile; with a WAV, its fake microphone plays that file once."""
    args = list(OFFLINE_FLAGS)
    if microphone_wav is not None:
        args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone_wav}%noloop",
            "--autoplay-policy=no-user-gesture-required",
        ]
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


@pytest.fixture(scope="module")
def chromium(playwright):
    """One Chromium (no microphone) for a module's scenarios; each scenario gets its own context."""
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


def is_local(url: str, app_url: str) -> bool:
    return url.startswith((app_url + "/", "data:", "blob:")) or url == app_url


@contextmanager
def open_page(browser, app_url: str, request, **context_options) -> Iterator:
    """A fresh browser context for the app at app_url. Every request any of its pages makes is recorded,
    and on leaving, anything that went elsewhere than the app fails the scenario."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, **context_options)
    context.grant_permissions(["microphone"])
    context.add_init_script(KEEP_PEER_CONNECTIONS)
    requested: list[str] = []
    context.on("request", lambda r: requested.append(r.url))
    page = context.new_page()
    page.requested_urls = requested  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
        context.close()
    remote = [url for url in requested if not is_local(url, app_url)]
    assert remote == [], f"the page made requests outside the app at {app_url}: {remote}"


@pytest.fixture
def browser_page(chromium, app, request):
    with open_page(chromium, app.url, request) as page:
        yield page


@pytest.fixture
def talking_page(playwright, speech, tmp_path, request):  # noqa: F811
    """Opens a page on app_url whose microphone says the given sentences, each followed by its pause
    in seconds (after 4 s of silence: time to press the buttons and connect)."""
    with ExitStack() as cleanup:

        def _open(app_url: str, *said: tuple[str, float], **context_options):
            parts = [silence(4.0)]
            for text, pause_s in said:
                parts += [speech.at(text, MIC_RATE, before_s=0.0, after_s=0.0), silence(pause_s)]
            wav = write_wav(tmp_path / "microphone.wav", np.concatenate(parts))
            browser = launch_chromium(playwright, microphone_wav=wav)
            cleanup.callback(browser.close)
            return cleanup.enter_context(open_page(browser, app_url, request, **context_options))

        yield _open


def start_talking(page, app_url: str) -> None:
    """Open the Voice tab once its models are ready, allow the microphone and start the call."""
    open_app(page, app_url)
    page.get_by_role("tab", name="Voice").click()
    page.locator("#voice-models").get_by_text("Voice ready").wait_for(timeout=60_000)
    webrtc = page.locator("#voice-webrtc")
    webrtc.get_by_role("button", name="Click to Access Microphone").click()
    webrtc.get_by_text("Start talking").click()


# The audio the page has received and played from the app, summed over its WebRTC connections.
RECEIVED_AUDIO = """async () => {
  let energy = 0, packets = 0;
  for (const pc of window.__peerConnections || []) {
    (await pc.getStats()).forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'audio') {
        energy += report.totalAudioEnergy || 0;
        packets += report.packetsReceived || 0;
      }
    });
  }
  return {energy, packets};
}"""


def received_energy(page) -> float:
    """The sound received from the app so far (to tell a later answer from the greeting a call opens with)."""
    return page.evaluate(RECEIVED_AUDIO)["energy"]


def wait_for_voice_from_app(page, more_than: float = 0.0) -> None:
    """The avatar's voice came back over WebRTC and was played: audio packets, with more sound in them
    than `more_than` (what had come before, e.g. the greeting)."""
    check = f"({RECEIVED_AUDIO})().then(r => r.packets > 50 && r.energy > {more_than})"
    page.wait_for_function(check, timeout=30_000)
    assert page.locator("#voice-webrtc audio").count() >= 1


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot(page, name: str) -> Path:
    """Save the page as test-artifacts/<name>.png, once no component is dimmed as still loading
    (Gradio marks those `.pending`); a page that never settles is saved as it is."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("() => !document.querySelector('.pending')", timeout=5_000)
    except PlaywrightTimeout:
        pass
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def write_wav(path: Path, audio: np.ndarray, rate: int = MIC_RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(to_int16(audio).tobytes())
    return path


def silence(seconds: float, rate: int = MIC_RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def open_app(page, app_url: str) -> None:
    """Load the page and wait until the Chat tab shows a conversation (one of Aria's greetings at least)."""
    page.goto(app_url)
    page.locator("#chatbot").get_by_text(re.compile("How's your day been|There you are! Grab a drink")).first.wait_for()


def new_chat(page) -> None:
    """Start a fresh conversation with the character picked, as a person would before a new topic."""
    page.get_by_role("button", name="+ New chat").click()
    page.locator("#conversation-list input:checked").wait_for(state="detached")


def pick(page, listbox: str, option: str) -> None:
    """Choose `option` in a Chat tab dropdown. Gradio's dropdown can re-render while the page's load
    events are still arriving and close itself; a person would click again, so do we."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):
        page.get_by_role("listbox", name=listbox, exact=True).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=2_000)
            return
        except PlaywrightTimeout:
            page.locator("#chatbot").click()  # close it; focus elsewhere so the next click opens it again
            page.wait_for_timeout(300)
    raise AssertionError(f"could not pick {option} in the {listbox} dropdown")


def pick_persona(page, name: str) -> None:
    pick(page, "Character", name)


def wait_for_memory(page, text: str) -> None:
    """In the Memory tab: memories are written in the background, so refresh until `text` is listed."""
    table = page.locator("#memory-table")
    for _ in range(60):
        if table.get_by_text(text).count():
            return
        page.locator("#memory-refresh").click()
        page.wait_for_timeout(500)
    table.get_by_text(text).first.wait_for()


def send(page, text: str, reply: str) -> None:
    """Type a message in the Chat tab and wait for (the end of) the reply."""
    page.locator("#message-box textarea").fill(text)
    page.locator("#message-box textarea").press("Enter")
    page.locator("#chatbot").get_by_text(reply).wait_for(timeout=30_000)
