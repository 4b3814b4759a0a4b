"""End of turn by meaning: Smart Turn v3 (an 8 MB int8 ONNX, BSD-2) hears whether an utterance sounds finished.

Silence alone cannot tell "What time is it?" (answer now) from "I'd like to order, um" (the
person is thinking). Smart Turn v3 is a Whisper-encoder classifier trained on exactly that: the
last 8 s of 16 kHz audio in, the probability that the speaker is done out, in ~50 ms on one core.
It is run at each short pause; the voice handler answers at once when it says "complete" and
keeps listening otherwise.

The weights: a file given as a path, else the copy the `pipecat-ai` package ships (the tests use
that one), else downloaded once into <data-dir>/models like the other speech models. Pipecat's
own analyzer is not used: it pulls in Pipecat's frame machinery and logger for a 20-line job.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from avatar.speech.audio import SAMPLE_RATE
from avatar.speech.exceptions import SpeechModelError
from avatar.speech.vad import one_core_session

MODEL_NAME = "smart-turn-v3.2-cpu"
MODEL_URL = f"https://huggingface.co/pipecat-ai/smart-turn-v3/resolve/main/{MODEL_NAME}.onnx"
WINDOW_S = 8  # the model hears the last 8 s (padded in front with silence when shorter)
COMPLETE = 0.5  # the model's own decision threshold

_N_FFT = 400
_HOP = 160
_N_MELS = 80


def bundled_model_path() -> Path | None:
    """Smart Turn's ONNX inside an installed `pipecat-ai` package (located without importing Pipecat)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "audio" / "turn" / "smart_turn" / "data" / f"{MODEL_NAME}.onnx"
        if path.is_file():
            return path
    return None


class _Features:
    """Whisper's log-mel features (80 bins, 25 ms windows every 10 ms), as Smart Turn was trained on."""

    def __init__(self) -> None:
        import librosa  # Whisper's own mel filters are librosa's Slaney filters; imported once, off the hot path

        self.filters = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=_N_FFT, n_mels=_N_MELS).astype(np.float64)
        self.window = np.hanning(_N_FFT + 1)[:-1]  # periodic Hann, as torch.hann_window

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        x = np.asarray(audio, dtype=np.float32)
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)  # zero mean, unit variance (the feature extractor's do_normalize)
        padded = np.pad(x.astype(np.float64), _N_FFT // 2, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
        power = np.abs(np.fft.rfft(frames * self.window, axis=-1)) ** 2
        mel = np.log10(np.maximum(self.filters @ power.T, 1e-10))[:, :-1]
        mel = np.maximum(mel, mel.max() - 8.0)
        return ((mel + 4.0) / 4.0).astype(np.float32)


def last_window(audio: np.ndarray) -> np.ndarray:
    """The last WINDOW_S seconds of 16 kHz audio, silence in front when it is shorter."""
    n = WINDOW_S * SAMPLE_RATE
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)[-n:]
    return np.pad(audio, (n - audio.size, 0)) if audio.size < n else audio


class SmartTurn:
    """The Smart Turn v3 model, loaded once and shared by every connection (`probability` is thread-safe)."""

    def __init__(self, model_path: Path) -> None:
        self.model_path = Path(model_path)
        self._session: Any = None
        self._features: _Features | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            if not self.model_path.is_file():
                raise SpeechModelError(f"End-of-turn model file not found: {self.model_path}. Check --turn-model.")
            try:
                session = one_core_session(self.model_path)  # ~50 ms a call: the other cores go to whisper and Piper
            except Exception as error:
                raise SpeechModelError(f"Could not load the end-of-turn model {self.model_path}: {error}") from error
            self._features = _Features()
            self._session = session

    def probability(self, audio: np.ndarray) -> float:
        """How likely the speaker of float32 16 kHz `audio` (ending now, pause included) is done: 0-1."""
        self.load()
        assert self._features is not None
        features = self._features(last_window(audio))[np.newaxis]
        out = self._session.run(None, {"input_features": features})[0]
        return float(np.asarray(out).reshape(-1)[0])

    def warmup(self) -> float:
        """Load and run once; returns the run's time in seconds."""
        self.load()
        started = time.perf_counter()
        self.probability(np.zeros(SAMPLE_RATE, np.float32))
        return time.perf_counter() - started
