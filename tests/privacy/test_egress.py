"""No data leaves: the running app, used for chat and memory, connects to nothing but the configured
model server on loopback (and itself). Every connection attempt is recorded by an audit hook."""

from __future__ import annotations

import ast
import time

from gradio_client import Client

from avatar.core.settings import PROJECT_ROOT

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


def attempted(log_path) -> list[tuple[str, object]]:
    if not log_path.exists():
        return []
    events = []
    for line in log_path.read_text().splitlines():
        kind, _, target = line.partition("\t")
        events.append((kind, ast.literal_eval(target)))
    return events


def outside(events, allowed_ports: set[int]) -> list:
    bad = []
    for kind, target in events:
        if kind == "resolve":
            if str(target) not in LOOPBACK_HOSTS:
                bad.append((kind, target))
        elif isinstance(target, tuple) and len(target) >= 2:
            host, port = target[0], target[1]
            if host not in LOOPBACK_HOSTS or port not in allowed_ports:
                bad.append((kind, target))
        elif isinstance(target, (str, bytes)):
            continue  # AF_UNIX sockets: local by definition
        else:
            bad.append((kind, target))
    return bad


def test_chat_and_memory_make_no_outside_connection(launch_app, fake_ollama, tmp_path):
    log_path = tmp_path / "egress.log"
    app = launch_app(env={"AVATAR_EGRESS_LOG": str(log_path)}, script=PROJECT_ROOT / "tests/support/audited_app.py")
    client = Client(app.url, verbose=False)
    conversation_id = ""
    for text in ("My favourite colour is teal.", "I live near the sea.", "I play the cello.", "What do you know?"):
        conversation_id = list(client.submit(text, "aria", conversation_id, api_name="/chat"))[-1]["conversation_id"]
    # Memory writes run in the background after the replies: the embedding model loads (torch), chunks
    # are stored, then cards are distilled by the model server. Wait for that last step.
    deadline = time.monotonic() + 120
    while not fake_ollama.structured_requests() and time.monotonic() < deadline:
        time.sleep(0.5)
    app.stop()

    events = attempted(log_path)
    assert any(kind == "connect" for kind, _ in events), "the audit hook saw nothing: the test is not working"
    assert fake_ollama.structured_requests(), "the memory path (card distillation) did not run"
    assert outside(events, allowed_ports={fake_ollama.port, app.port}) == []
