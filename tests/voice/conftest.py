"""Voice fixtures: the speech test models (shared with tests/speech), spoken sentences, a running app with voice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from avatar.context import AppContext, create_context
from avatar.core.settings import Settings
from avatar.speech.audio import resample, to_mono_16k
from avatar.speech.tts import PiperTTS
from avatar.voice.models import VoiceModels
from tests.conftest import AppWithData, close_context
from tests.speech.conftest import ggml_tiny_en, piper_voice_path, tts  # noqa: F401  (the same session fixtures)
from tests.support.fake_model_server import FakeModelServer
from tests.voice.speech_set import SteadyPiper, Voices

QUESTION = "What is the capital of France?"
INTERRUPTION = "Wait, stop for a moment."


class Speech:
    """Sentences said by the test Piper voice, cached: float32 mono at any rate, with silence around."""

    def __init__(self, tts: PiperTTS) -> None:  # noqa: F811
        self.tts = tts
        self._cache: dict[str, tuple[int, np.ndarray]] = {}

    def raw(self, text: str) -> tuple[int, np.ndarray]:
        if text not in self._cache:
            self._cache[text] = self.tts.synthesize(text)
        return self._cache[text]

    def at(self, text: str, rate: int = 16_000, before_s: float = 0.3, after_s: float = 1.0) -> np.ndarray:
        source_rate, audio = self.raw(text)
        audio = to_mono_16k(audio, source_rate, rate) if rate != source_rate else audio
        return np.concatenate(
            [np.zeros(int(before_s * rate), np.float32), audio, np.zeros(int(after_s * rate), np.float32)]
        )


@pytest.fixture(scope="session")
def steady_piper(piper_voice_path: Path) -> SteadyPiper:  # noqa: F811
    return SteadyPiper(piper_voice_path)


@pytest.fixture(scope="session")
def speech(steady_piper: SteadyPiper) -> Speech:
    return Speech(steady_piper)


@pytest.fixture(scope="session")
def voices(steady_piper: SteadyPiper, tmp_path_factory) -> Voices:
    """The labelled set's two voices (Piper, espeak-ng), each utterance made once per run."""
    return Voices(steady_piper, tmp_path_factory.getbasetemp() / "speech-set")


@pytest.fixture(scope="session")
def voice_models_settings(tmp_path_factory, ggml_tiny_en: Path, piper_voice_path: Path) -> Settings:  # noqa: F811
    return Settings(
        data_dir=tmp_path_factory.mktemp("voice-models"), stt_model=str(ggml_tiny_en), tts_voice=str(piper_voice_path)
    )


@pytest.fixture(scope="session")
def voice_models(voice_models_settings: Settings) -> VoiceModels:
    """Whisper tiny.en and the joe voice, loaded once for all handler tests."""
    models = VoiceModels(voice_models_settings)
    models.warm_up()
    assert models.ready, models.status
    return models


@pytest.fixture
def voice_settings(settings: Settings, ggml_tiny_en: Path, piper_voice_path: Path) -> Settings:  # noqa: F811
    return settings.model_copy(update={"stt_model": str(ggml_tiny_en), "tts_voice": str(piper_voice_path)})


@pytest.fixture
def voice_ctx(voice_settings: Settings, embedder) -> Iterator[AppContext]:
    context = create_context(voice_settings, embedder=embedder)
    yield context
    close_context(context)


@pytest.fixture(scope="module")
def voice_app(tmp_path_factory, module_ollama: FakeModelServer, ggml_tiny_en: Path, piper_voice_path: Path):  # noqa: F811
    """One running app for a test module (starting one takes seconds); each test uses its own session."""
    env = {"AVATAR_STT_MODEL": str(ggml_tiny_en), "AVATAR_TTS_VOICE": str(piper_voice_path)}
    app = AppWithData(tmp_path_factory.mktemp("voice-app"), module_ollama.url, env).start()
    yield app
    app.stop()


def resampled(audio_16k: np.ndarray, rate: int) -> np.ndarray:
    return resample(audio_16k, 16_000, rate)
