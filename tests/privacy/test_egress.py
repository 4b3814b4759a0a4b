"""No data leaves: the running app, used for chat, memory and voice, connects to nothing but the configured
model server on loopback, itself, and the WebRTC peer that called it. Every attempt is recorded by an
audit hook (socket.connect, socket.sendto and name look-ups)."""

from __future__ import annotations

import ast
import asyncio
import time

from gradio_client import Client

from avatar.core.settings import PROJECT_ROOT
from tests.privacy.voice_turn import media_peers, replies_shown, spoken_turn
from tests.voice.conftest import QUESTION
from tests.voice.rtc_client import GradioSession

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
AUDITED_APP = PROJECT_ROOT / "tests/support/audited_app.py"


def attempted(log_path) -> list[tuple[str, object]]:
    if not log_path.exists():
        return []
    events = []
    for line in log_path.read_text().splitlines():
        kind, _, target = line.partition("\t")
        events.append((kind, ast.literal_eval(target)))
    return events


def outside(events, allowed_ports: set[int], peers: frozenset[tuple[str, int]] = frozenset()) -> list:
    """Events reaching anything but the allowed loopback ports or the WebRTC peer's own addresses."""
    bad = []
    for kind, target in events:
        if kind == "resolve":
            if str(target) not in LOOPBACK_HOSTS:
                bad.append((kind, target))
        elif isinstance(target, tuple) and len(target) >= 2:
            host, port = target[0], target[1]
            if (host, port) in peers:
                continue  # the voice call's media and ICE checks, to the addresses the caller offered
            if host not in LOOPBACK_HOSTS or port not in allowed_ports:
                bad.append((kind, target))
        elif isinstance(target, (str, bytes)):
            continue  # AF_UNIX sockets: local by definition
        else:
            bad.append((kind, target))
    return bad


def test_chat_memory_and_voice_make_no_outside_connection(
    launch_app, fake_ollama, tmp_path, speech, ggml_tiny_en, piper_voice_path
):
    log_path = tmp_path / "egress.log"
    env = {"AVATAR_EGRESS_LOG": str(log_path), "AVATAR_STT_MODEL": str(ggml_tiny_en)}
    app = launch_app(env={**env, "AVATAR_TTS_VOICE": str(piper_voice_path)}, script=AUDITED_APP)
    client = Client(app.url, verbose=False)
    conversation_id = ""
    for text in ("My favourite colour is teal.", "I live near the sea.", "I play the cello.", "What do you know?"):
        conversation_id = list(client.submit(text, "aria", conversation_id, api_name="/chat"))[-1]["conversation_id"]
    fake_ollama.script("Paris is the capital of France.")
    call = asyncio.run(spoken_turn(GradioSession(app.url), speech.at(QUESTION, 48_000)))
    assert replies_shown(call)[-1] == "Paris is the capital of France."
    # Memory writes run in the background after the replies: the embedding model loads (torch), chunks
    # are stored, then cards are distilled by the model server. Wait for that last step.
    deadline = time.monotonic() + 120
    while not fake_ollama.structured_requests() and time.monotonic() < deadline:
        time.sleep(0.5)
    app.stop()

    events = attempted(log_path)
    assert any(kind == "connect" for kind, _ in events), "the audit hook saw nothing: the test is not working"
    assert fake_ollama.structured_requests(), "the memory path (card distillation) did not run"
    assert any(kind == "sendto" and target[:2] in media_peers(call) for kind, target in events), "no voice media"
    assert outside(events, allowed_ports={fake_ollama.port, app.port}, peers=frozenset(media_peers(call))) == []
