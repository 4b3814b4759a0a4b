"""The real app, started as a user starts it (`python app.py ...`), driven through gradio_client."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import httpx
from gradio_client import Client

from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.core.settings import PROJECT_ROOT
from avatar.expressions.labels import LABELS
from tests.conftest import free_port


def chat(client: Client, message: str, persona_id: str, conversation_id: str = "") -> list[dict]:
    job = client.submit(message, persona_id, conversation_id, api_name="/chat")
    return list(job)


def test_personas_chat_streams_and_restart_keeps_history(launch_app, fake_ollama, tmp_path):
    app = launch_app()
    client = Client(app.url, verbose=False)
    personas = client.predict(api_name="/personas")
    assert {"id": "aria", "name": "Aria"} in personas and len(personas) >= 3

    fake_ollama.script("I will remember that you love kites.")
    outputs = chat(client, "I love kites 🪁", "aria")
    final = outputs[-1]
    assert len(outputs) > 2, "the reply should arrive in several pieces"
    assert final["done"] and final["status"] == "complete"
    assert final["reply"] == "I will remember that you love kites."
    # The reply's expression, once the embedding model is loaded (a cold start labels it in the background).
    assert final["emotion"] in (*LABELS, None) and all(u["emotion"] is None for u in outputs[:-1])
    conversation_id = final["conversation_id"]
    app.stop()

    restarted = launch_app()
    client = Client(restarted.url, verbose=False)
    fake_ollama.script("Kites, of course!")
    final = chat(client, "What do I love?", "aria", conversation_id)[-1]
    assert final["reply"] == "Kites, of course!"
    said = [m["content"] for m in fake_ollama.chat_requests()[-1].body["messages"] if m["role"] != "system"]
    assert said[-3:] == ["I love kites 🪁", "I will remember that you love kites.", "What do I love?"]
    restarted.stop()

    service = ConversationService(open_database(tmp_path / "data" / "avatar.db"))
    assert [m.content for m in service.messages(conversation_id)][1:] == [
        "I love kites 🪁",
        "I will remember that you love kites.",
        "What do I love?",
        "Kites, of course!",
    ]


def test_a_stop_while_the_models_load_ends_the_app_at_once_and_cleanly(launch_app, tmp_path):
    """Ctrl+C (or `kill`) in the first seconds: the app used to wait for the embedding model to finish loading
    (10-20 s here), since a thread inside torch at the interpreter's exit aborts the process (exit -6)."""
    app = launch_app()
    app.process.send_signal(signal.SIGTERM)
    assert app.process.wait(timeout=60) == 0, app.output
    output = app.stop()
    assert "Stopping Local Avatar" in output and "embedding model ready" not in output, output  # it did not wait
    data = tmp_path / "data"
    assert not list((data / "tmp").glob("run-*")), "the run's scratch folder is removed as at any stop"


def test_stop_through_the_api_saves_a_partial_reply(shared_app, shared_ollama):
    client = Client(shared_app.url, verbose=False)
    first = chat(client, "hi", "captain-vega")[-1]
    shared_ollama.token_delay_s = 0.05
    shared_ollama.script(" ".join(f"word{i}" for i in range(100)))
    job = client.submit("talk a lot", "captain-vega", first["conversation_id"], api_name="/chat")
    deadline = time.monotonic() + 20
    while not any(update["reply"] for update in job.outputs()):  # Stop once the reply is streaming
        assert time.monotonic() < deadline, job.outputs()
        time.sleep(0.02)
    assert client.predict(first["conversation_id"], api_name="/stop") is True
    final = job.result(timeout=10)  # (the last update: outputs() may not have it yet the moment done() is True)
    assert final["status"] == "partial" and final["reply"].startswith("word0") and "word99" not in final["reply"]
    assert shared_ollama.wait_for_event("chat_closed_by_client")


def test_unknown_persona_is_a_clear_error(shared_app):
    client = Client(shared_app.url, verbose=False)
    try:
        client.predict("hi", "nobody", "", api_name="/chat")
    except Exception as error:  # noqa: BLE001 (gradio_client raises AppError carrying the message)
        assert "no persona 'nobody'" in str(error)
    else:
        raise AssertionError("expected an error")


def test_binds_loopback_and_page_loads_nothing_remote(shared_app):
    app = shared_app
    assert app.url.startswith("http://127.0.0.1:")
    html = httpx.get(app.url + "/").text
    urls = re.findall(r"""(?:src|href)\s*=\s*["'](https?://[^"']+)""", html)
    assert [u for u in urls if not u.startswith(("http://127.0.0.1", "http://localhost"))] == []
    assert "fonts.googleapis" not in html and "cdnjs" not in html
    theme = httpx.get(app.url + "/theme.css").text
    assert "@import" not in theme and "fonts.googleapis" not in theme


def test_first_page_does_not_import_heavy_models(tmp_path):
    code = (
        "import sys, app\n"
        "from avatar.core.settings import Settings\n"
        "from avatar.app import build_app\n"
        f"build_app(Settings(data_dir={str(tmp_path)!r}))\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'pywhispercpp', 'piper') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_help_lists_the_flags():
    result = subprocess.run(
        [sys.executable, "app.py", "--help"], check=False, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for flag in (
        "--port",
        "--data-dir",
        "--ollama-host",
        "--model",
        "--provider",
        "--openai-base-url",
        "--log-prompts",
    ):
        assert flag in result.stdout


def test_a_data_dir_that_cannot_be_used_is_one_line_and_exit_2(tmp_path):
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data folder should be")
    result = subprocess.run(
        [sys.executable, "app.py", "--data-dir", str(not_a_folder), "--port", str(free_port())],
        check=False,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"Cannot use the data directory {not_a_folder} (it is a file). Choose another with --data-dir."
    )
