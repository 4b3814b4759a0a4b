"""Voice activity detection: Silero VAD's bundled ONNX model run with onnxruntime, and a FastRTC adapter.

The `silero-vad` package's own wrappers import torch (~20 s); only its ONNX file is used here.
`SileroPauseDetector` implements FastRTC's `PauseDetectionModel` protocol (`vad()` + `warmup()`),
so `ReplyOnPause(..., model=SileroPauseDetector())` uses it instead of downloading a model from
the Hugging Face hub as FastRTC's default does.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from avatar.speech.audio import SAMPLE_RATE, to_mono_16k
from avatar.speech.exceptions import SpeechModelError

logger = logging.getLogger(__name__)

WINDOW = 512  # samples per model call at 16 kHz (32 ms): the only size Silero v5 accepts
_CONTEXT = 64  # v5 expects the last 64 samples of the previous window in front of each window
_STATE_SHAPE = (2, 1, 128)


class AudioChunk(TypedDict):
    """A speech segment in samples at 16 kHz (the same shape as fastrtc.utils.AudioChunk)."""

    start: int
    end: int


@dataclass(frozen=True)
class VadOptions:
    """How probabilities become speech segments. Defaults match FastRTC's SileroVadOptions.

    threshold: a window is speech at or above this probability; speech ends below threshold - 0.15.
    min_speech_duration_ms: shorter segments are dropped (coughs, clicks).
    min_silence_duration_ms: silence shorter than this does not end a segment.
    speech_pad_ms: each segment is widened by this much on both sides.
    """

    threshold: float = 0.5
    min_speech_duration_ms: int = 250
    min_silence_duration_ms: int = 2000
    speech_pad_ms: int = 400

    @classmethod
    def from_any(cls, options: Any, default: VadOptions) -> VadOptions:
        """Our options, or any object with the same attribute names (e.g. FastRTC's SileroVadOptions)."""
        if options is None:
            return default
        if isinstance(options, VadOptions):
            return options
        return cls(**{name: getattr(options, name, getattr(default, name)) for name in cls.__dataclass_fields__})


def one_core_session(path: Path) -> Any:
    """An onnxruntime session on one core, for the small models that run beside whisper and Piper
    (Silero, Smart Turn): one thread is fastest for them and leaves the other cores to the big ones."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def silero_onnx_path() -> Path:
    """The ONNX model bundled in the silero-vad package, located without importing it (it imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise SpeechModelError("Voice detection needs the silero-vad package; reinstall the app's dependencies.")
    path = Path(spec.origin).parent / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise SpeechModelError(f"The Silero VAD model is missing at {path}; reinstall silero-vad.")
    return path


class SileroVAD:
    """Speech probabilities and speech segments for 16 kHz audio. Thread-safe; the model loads on first use."""

    def __init__(self, model_path: Path | None = None, options: VadOptions | None = None) -> None:
        self.model_path = model_path
        self.options = options or VadOptions()
        self._session: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            self._session = one_core_session(self.model_path or silero_onnx_path())

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        """Speech probability of each 32 ms window of float32 mono 16 kHz audio (the last one zero-padded)."""
        self.load()
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        n_windows = -(-audio.size // WINDOW)
        if n_windows == 0:
            return np.zeros(0, dtype=np.float32)
        padded = np.zeros(_CONTEXT + n_windows * WINDOW, dtype=np.float32)
        padded[_CONTEXT : _CONTEXT + audio.size] = audio
        # State is per call, so concurrent calls (several voice sessions) never share it.
        state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        sr = np.array(SAMPLE_RATE, dtype=np.int64)
        probs = np.empty(n_windows, dtype=np.float32)
        for i in range(n_windows):
            frame = padded[i * WINDOW : i * WINDOW + _CONTEXT + WINDOW][np.newaxis, :]
            out, state = self._session.run(None, {"input": frame, "state": state, "sr": sr})
            probs[i] = float(out.reshape(-1)[0])
        return probs

    def speech_segments(self, audio: np.ndarray, options: VadOptions | None = None) -> list[AudioChunk]:
        """Speech segments (sample offsets) of float32 mono 16 kHz audio."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        return segments_from_probabilities(self.probabilities(audio), audio.size, options or self.options)

    def speech_duration(self, audio: np.ndarray, options: VadOptions | None = None) -> float:
        """Seconds of speech (padded segments) in float32 mono 16 kHz audio."""
        return sum(c["end"] - c["start"] for c in self.speech_segments(audio, options)) / SAMPLE_RATE

    def is_speech(self, samples: np.ndarray, rate: int, options: VadOptions | None = None) -> bool:
        """Whether any audio (any rate/layout) contains at least one speech segment."""
        return bool(self.speech_segments(to_mono_16k(samples, rate), options))

    def warmup(self) -> None:
        self.probabilities(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))


def segments_from_probabilities(probs: np.ndarray, n_samples: int, options: VadOptions) -> list[AudioChunk]:
    """Silero's hysteresis: speech starts at `threshold`, ends after enough time below `threshold - 0.15`."""
    to_samples = SAMPLE_RATE / 1000
    min_speech = options.min_speech_duration_ms * to_samples
    min_silence = options.min_silence_duration_ms * to_samples
    pad = int(options.speech_pad_ms * to_samples)
    low = max(options.threshold - 0.15, 0.01)

    raw: list[list[int]] = []
    start: int | None = None
    silence_from = 0  # where the current run of low probability began (0: none)
    for i, prob in enumerate(probs):
        pos = i * WINDOW
        if prob >= options.threshold:
            silence_from = 0
            if start is None:
                start = pos
        elif start is not None and prob < low:
            silence_from = silence_from or pos
            if pos - silence_from >= min_silence:
                if silence_from - start >= min_speech:
                    raw.append([start, silence_from])
                start, silence_from = None, 0
    if start is not None and n_samples - start >= min_speech:
        raw.append([start, n_samples])

    merged: list[list[int]] = []
    for seg_start, seg_end in raw:
        seg_start, seg_end = max(0, seg_start - pad), min(n_samples, seg_end + pad)
        if merged and seg_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], seg_end)
        else:
            merged.append([seg_start, seg_end])
    return [AudioChunk(start=s, end=e) for s, e in merged]


class SileroPauseDetector:
    """FastRTC `PauseDetectionModel` backed by `SileroVAD`: pass it as `ReplyOnPause(model=...)`."""

    def __init__(self, vad: SileroVAD | None = None, options: VadOptions | None = None) -> None:
        self.vad_model = vad or SileroVAD()
        self.options = options or self.vad_model.options

    def vad(self, audio: tuple[int, np.ndarray], options: Any) -> tuple[float, list[AudioChunk]]:
        """(seconds of speech, speech segments at 16 kHz) in one chunk of incoming audio."""
        try:
            rate, samples = audio
            mono = to_mono_16k(samples, rate)
            chunks = self.vad_model.speech_segments(mono, VadOptions.from_any(options, self.options))
        except Exception:
            # FastRTC calls this from its audio loop; a failure must read as "no speech", not kill the call.
            logger.exception("voice activity detection failed")
            return 0.0, []
        return sum(c["end"] - c["start"] for c in chunks) / SAMPLE_RATE, chunks

    def warmup(self) -> None:
        self.vad_model.load()
        self.vad_model.warmup()
