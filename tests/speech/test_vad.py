"""Silero VAD over onnxruntime: speech vs silence/noise, the segment logic, and the FastRTC adapter."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from avatar.speech.audio import to_int16
from avatar.speech.vad import WINDOW, SileroPauseDetector, SileroVAD, VadOptions, segments_from_probabilities

SILERO_DEFAULTS = VadOptions(threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=100, speech_pad_ms=30)


def noise(seconds: float, amplitude: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, amplitude, int(16000 * seconds)).astype(np.float32).clip(-1, 1)


@pytest.mark.slow
def test_detects_speech_in_piper_audio(vad: SileroVAD, fox_16k: np.ndarray) -> None:
    padded = np.concatenate([np.zeros(16000, np.float32), fox_16k, np.zeros(16000, np.float32)])
    segments = vad.speech_segments(padded, SILERO_DEFAULTS)
    assert segments
    speech = sum(s["end"] - s["start"] for s in segments) / 16000
    assert 0.7 * fox_16k.size / 16000 < speech < fox_16k.size / 16000 + 0.5
    assert segments[0]["start"] >= 15000  # the leading second of silence is not speech
    assert vad.probabilities(fox_16k).max() > 0.9


@pytest.mark.parametrize(
    "audio",
    [np.zeros(32000, np.float32), noise(2, 0.02), noise(2, 0.3, seed=1), noise(1, 1.0, seed=2)],
    ids=["silence", "quiet-noise", "loud-noise", "clipping-noise"],
)
def test_no_speech_in_silence_or_noise(vad: SileroVAD, audio: np.ndarray) -> None:
    assert vad.speech_segments(audio, SILERO_DEFAULTS) == []
    assert vad.speech_duration(audio) == 0.0


def test_odd_input_never_raises(vad: SileroVAD) -> None:
    assert vad.probabilities(np.zeros(0, np.float32)).size == 0
    assert vad.probabilities(np.zeros(1, np.float32)).size == 1  # zero-padded to one window
    assert vad.is_speech(np.array([np.nan, np.inf] * 100), 48000) is False
    assert vad.is_speech(np.zeros((2, 3), np.int16), 44100) is False


def probs_for(pattern: str) -> np.ndarray:
    """One window per character: '#' speech (0.9), '.' silence (0.05), '~' in between (0.4)."""
    return np.array([{"#": 0.9, ".": 0.05, "~": 0.4}[c] for c in pattern], dtype=np.float32)


def segment_windows(pattern: str, **options: float) -> list[tuple[int, int]]:
    opts = VadOptions(**{"min_speech_duration_ms": 0, "min_silence_duration_ms": 0, "speech_pad_ms": 0, **options})
    segments = segments_from_probabilities(probs_for(pattern), len(pattern) * WINDOW, opts)
    return [(s["start"] // WINDOW, s["end"] // WINDOW) for s in segments]


def test_segments_follow_threshold_hysteresis() -> None:
    assert segment_windows("..###...##.") == [(2, 5), (8, 10)]
    # Probability between threshold - 0.15 and threshold neither starts nor ends speech.
    assert segment_windows("..##~~##...") == [(2, 8)]
    assert segment_windows("~~~~") == []
    assert segment_windows("..####") == [(2, 6)]  # still talking at the end of the audio


def test_segments_min_silence_min_speech_and_padding() -> None:
    # 32 ms windows: a 2-window gap (64 ms) is shorter than 100 ms of silence, so it does not split.
    assert segment_windows("##..##......", min_silence_duration_ms=100) == [(0, 6)]
    # A one-window blip (32 ms) is shorter than 100 ms of speech and is dropped.
    assert segment_windows("#......####......", min_speech_duration_ms=100, min_silence_duration_ms=60) == [(7, 11)]
    padded = segments_from_probabilities(
        probs_for("..##.....##.."), 13 * WINDOW, VadOptions(0.5, 0, 0, speech_pad_ms=64)
    )
    assert [(s["start"], s["end"]) for s in padded] == [
        (2 * WINDOW - 1024, 4 * WINDOW + 1024),
        (9 * WINDOW - 1024, 13 * WINDOW),
    ]


def test_pause_detector_follows_fastrtc_protocol(vad: SileroVAD) -> None:
    detector = SileroPauseDetector(vad)
    detector.warmup()
    frames = to_int16(np.zeros((1, 28800), np.float32))  # 0.6 s at 48 kHz, FastRTC's (channels, n) int16
    assert detector.vad((48000, frames), None) == (0.0, [])
    fastrtc_like = SimpleNamespace(
        threshold=0.3,
        min_speech_duration_ms=100,
        min_silence_duration_ms=500,
        speech_pad_ms=0,
        window_size_samples=1024,
        max_speech_duration_s=float("inf"),
    )
    assert detector.vad((48000, frames), fastrtc_like) == (0.0, [])
    assert detector.vad((48000, np.zeros(0, np.int16)), None) == (0.0, [])
    assert VadOptions.from_any(fastrtc_like, VadOptions()) == VadOptions(0.3, 100, 500, 0)


@pytest.mark.slow
# Without a WebRTC connection FastRTC's "started_talking" message has no event loop to go to.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_reply_on_pause_detects_end_of_turn(vad: SileroVAD, fox_speech: tuple[int, np.ndarray]) -> None:
    """FastRTC's real ReplyOnPause, driven frame by frame with our detector: speech, then a pause."""
    from fastrtc import ReplyOnPause

    from avatar.speech.audio import resample

    def reply(audio: tuple[int, np.ndarray]):  # never called: only pause detection is exercised
        yield audio

    handler = ReplyOnPause(reply, model=SileroPauseDetector(vad))
    rate, audio = fox_speech
    speech_48k = to_int16(resample(audio, rate, 48000))
    stream = np.concatenate([speech_48k, np.zeros(48000 * 2, np.int16)])
    paused_at = None
    for i in range(0, stream.size, 960):  # 20 ms frames, as WebRTC delivers them
        handler.process_audio((48000, stream[i : i + 960].reshape(1, -1)), handler.state)
        if handler.state.pause_detected:
            paused_at = i / 48000
            break
    assert handler.state.started_talking
    assert paused_at is not None
    assert speech_48k.size / 48000 <= paused_at <= speech_48k.size / 48000 + 1.5
