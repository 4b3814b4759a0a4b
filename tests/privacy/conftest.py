"""Privacy fixtures: the speech test models and spoken sentences, for the voice path's tests."""

from __future__ import annotations

from tests.speech.conftest import ggml_tiny_en, piper_voice_path, tts  # noqa: F401  (session fixtures)
from tests.voice.conftest import speech, steady_piper  # noqa: F401  (session fixtures)
