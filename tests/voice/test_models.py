"""Finding, downloading and warming the speech models; a missing model is a message, not a crash."""

from __future__ import annotations

import functools
import gc
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from avatar.core.settings import Settings
from avatar.personas.schemas import Persona
from avatar.speech.exceptions import SpeechModelError
from avatar.voice import models as voice_models_module
from avatar.voice.models import VoiceModels, download


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server for the 'model hub' (the tests never go online)."""
    root = tmp_path / "hub"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def persona(voice_id: str | None, rate: float = 1.0) -> Persona:
    return Persona.model_validate({"id": "p", "name": "P", "voice": {"id": voice_id, "rate": rate}})


def test_a_persona_voice_is_a_path_or_a_downloaded_voice_else_the_default(tmp_path: Path, piper_voice_path: Path):
    settings = Settings(data_dir=tmp_path, tts_voice=str(piper_voice_path))
    models = VoiceModels(settings)
    downloaded = settings.models_dir / "piper" / "en_GB-alan-medium.onnx"
    downloaded.parent.mkdir(parents=True)
    downloaded.write_bytes(b"onnx")
    Path(f"{downloaded}.json").write_text("{}")
    assert models.voice_path_for(persona("en_GB-alan-medium")) == downloaded
    assert models.voice_path_for(persona(str(piper_voice_path))) == piper_voice_path
    assert models.voice_path_for(persona("en_US-amy-medium")) == piper_voice_path  # not downloaded
    assert models.voice_path_for(persona(None)) == piper_voice_path
    assert models.voice_path_for(persona("/missing/voice.onnx")) == piper_voice_path


def test_missing_models_say_what_to_do(tmp_path: Path):
    models = VoiceModels(Settings(data_dir=tmp_path, tts_voice="/missing/voice.onnx", stt_model="/missing/ggml.bin"))
    with pytest.raises(SpeechModelError, match="Voice file not found: /missing/voice.onnx. Check --tts-voice"):
        models.voice_path_for(persona(None))
    with pytest.raises(SpeechModelError, match="model file not found: /missing/ggml.bin. Check --stt-model"):
        models.whisper_path()
    bad_name = VoiceModels(Settings(data_dir=tmp_path, tts_voice="robot"))
    with pytest.raises(SpeechModelError, match="No voice named 'robot'"):
        bad_name.default_voice_path()


def test_warm_up_failure_is_reported_not_raised(tmp_path: Path):
    models = VoiceModels(Settings(data_dir=tmp_path, stt_model="/missing/ggml.bin"))
    models.warm_up_in_background()
    assert not models.wait_ready(30)
    assert models.error and "/missing/ggml.bin" in models.error and models.status == models.error


def test_named_models_are_downloaded_once_with_progress(tmp_path: Path, file_server, monkeypatch):
    url, hub = file_server
    (hub / "ggml-tiny.en.bin").write_bytes(b"w" * 3_000_000)
    (hub / "en_US-amy-medium.onnx").write_bytes(b"v" * 1000)
    (hub / "en_US-amy-medium.onnx.json").write_text('{"audio": {"sample_rate": 22050}}')
    monkeypatch.setattr(voice_models_module, "WHISPER_URL", url + "/ggml-{name}.bin")
    monkeypatch.setattr(voice_models_module, "PIPER_URL", url + "/{voice}{ext}")
    models = VoiceModels(Settings(data_dir=tmp_path, stt_model="tiny.en", tts_voice="en_US-amy-medium"))
    statuses: list[str] = []
    models._progress = statuses.append  # type: ignore[method-assign]

    assert models.whisper_path() == tmp_path / "models" / "ggml-tiny.en.bin"
    assert models.default_voice_path() == tmp_path / "models" / "piper" / "en_US-amy-medium.onnx"
    assert (tmp_path / "models" / "ggml-tiny.en.bin").stat().st_size == 3_000_000
    assert statuses[0] == "Downloading speech recognition model tiny.en…"
    assert any(s.startswith("Downloading speech recognition model tiny.en: ") and "% of 3 MB" in s for s in statuses)
    assert "Downloaded voice en_US-amy-medium." in statuses
    statuses.clear()
    models.whisper_path()
    models.default_voice_path()
    assert statuses == []  # already there: no second download


def test_a_failed_download_leaves_nothing_behind(tmp_path: Path, file_server):
    url, _ = file_server
    dest = tmp_path / "models" / "ggml-base.en.bin"
    with pytest.raises(SpeechModelError, match="Could not download speech model"):
        download(url + "/nothing-here.bin", dest, "speech model", lambda text: None)
    assert list(dest.parent.iterdir()) == []


def watch_ready(models: VoiceModels, timeout_s: float = 60) -> list[str]:
    """The status read each time `ready` was read True (as the Voice tab reads them), until ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if models.ready:
            return [models.status]
        time.sleep(0.0002)
    return []


def test_loaded_models_stay_out_of_full_garbage_collections(voice_models_settings: Settings):
    """A full collection walking the models stalls a call for half a second: once loaded, they are frozen."""
    gc.unfreeze()  # (the suite's own freeze for this test, tests/conftest.py: start from nothing frozen)
    models = VoiceModels(voice_models_settings)
    # The Voice tab polls `ready` and then shows `status`: whenever the models read as ready, the status says so.
    seen: list[str] = []
    watching = threading.Thread(target=lambda: seen.extend(watch_ready(models)), daemon=True)
    watching.start()
    models.warm_up()
    watching.join(5)
    assert models.ready, models.status
    assert seen and all(status.startswith("Voice ready") for status in seen), seen
    left_to_walk = len(gc.get_objects())
    assert gc.get_freeze_count() > 100_000 and left_to_walk < gc.get_freeze_count() // 50
