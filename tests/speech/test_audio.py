"""to_mono_16k and friends: every odd shape, dtype and rate a browser or FastRTC can send."""

from __future__ import annotations

import numpy as np
import pytest

from avatar.speech.audio import duration_s, to_float32, to_int16, to_mono_16k


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(audio: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[spectrum.argmax()])


def assert_clean(out: np.ndarray) -> None:
    assert out.dtype == np.float32
    assert out.ndim == 1
    assert out.flags.c_contiguous
    assert np.isfinite(out).all()
    assert out.size == 0 or np.abs(out).max() <= 1.0


def test_silence_int16_frame_from_fastrtc() -> None:
    frame = np.zeros((1, 960), dtype=np.int16)  # 20 ms at 48 kHz, FastRTC's (channels, n)
    out = to_mono_16k(frame, 48000)
    assert_clean(out)
    assert out.size == 320
    assert not out.any()


def test_stereo_48k_channels_first_is_averaged_and_resampled() -> None:
    left = sine(440, 48000, 1.0)
    stereo = np.stack([left, left * 0.5])  # (2, n)
    out = to_mono_16k((stereo * 32767).astype(np.int16), 48000)
    assert_clean(out)
    assert out.size == 16000
    assert peak_hz(out) == pytest.approx(440, abs=2)
    assert np.abs(out).max() == pytest.approx(0.375, abs=0.02)  # mean of 0.5 and 0.25 amplitude


def test_stereo_channels_last_layout() -> None:
    left = sine(300, 48000, 0.5)
    out = to_mono_16k(np.stack([left, -left], axis=1), 48000)  # (n, 2): opposite phases cancel
    assert_clean(out)
    assert out.size == 8000
    assert np.abs(out).max() < 1e-3


def test_44k1_resampled_keeps_pitch_and_length() -> None:
    out = to_mono_16k(sine(1000, 44100, 2.0), 44100)
    assert_clean(out)
    assert out.size == 32000
    assert peak_hz(out) == pytest.approx(1000, abs=2)


def test_16k_float_input_passes_through() -> None:
    audio = sine(200, 16000, 0.25)
    np.testing.assert_array_equal(to_mono_16k(audio, 16000), audio)


@pytest.mark.parametrize(
    "samples",
    [np.zeros(1, np.int16), np.zeros((1, 1), np.int16), np.zeros((2, 1), np.int16), np.float32(0.5), np.zeros(2)],
)
@pytest.mark.parametrize("rate", [48000, 44100, 16000, 8000])
def test_one_sample_frames_never_raise(samples: np.ndarray, rate: int) -> None:
    out = to_mono_16k(samples, rate)
    assert_clean(out)
    assert out.size <= 4


@pytest.mark.parametrize("samples", [np.array([]), np.zeros((1, 0), np.int16), np.zeros((2, 0)), [], None, "x"])
def test_empty_or_junk_gives_empty(samples: object) -> None:
    out = to_mono_16k(samples, 48000)
    assert_clean(out)
    assert out.size == 0


def test_nan_inf_and_clipping() -> None:
    audio = np.array([np.nan, np.inf, -np.inf, 3.0, -3.0, 0.25] * 1000, dtype=np.float64)
    out = to_mono_16k(audio, 16000)
    assert_clean(out)
    assert out[:6].tolist() == [0.0, 1.0, -1.0, 1.0, -1.0, 0.25]
    out = to_mono_16k(audio, 48000)  # resampling the full-scale square must not overshoot
    assert_clean(out)


def test_noise_at_odd_rate() -> None:
    noise = np.random.default_rng(0).uniform(-1, 1, 22050 * 2).astype(np.float32)
    out = to_mono_16k(noise, 22050)
    assert_clean(out)
    assert out.size == 32000


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf"), None, "fast", 10, 10**9])
def test_unusable_rate_is_taken_as_16k(rate: object) -> None:
    audio = sine(100, 16000, 0.1)
    out = to_mono_16k(audio, rate)  # type: ignore[arg-type]
    assert_clean(out)
    assert out.size == audio.size


def test_integer_dtypes_scale_to_unit_range() -> None:
    assert to_float32(np.array([-32768, 0, 16384], np.int16)).tolist() == [-1.0, 0.0, 0.5]
    assert to_float32(np.array([-(2**31)], np.int32)).tolist() == [-1.0]
    assert to_float32(np.array([0, 128, 255], np.uint8)).tolist() == pytest.approx([-1.0, 0.0, 0.992], abs=1e-3)


def test_to_int16_round_trip_and_clip() -> None:
    audio = np.array([0.0, 0.5, -0.5, 2.0, np.nan], dtype=np.float32)
    pcm = to_int16(audio)
    assert pcm.dtype == np.int16
    assert pcm.tolist() == [0, 16384, -16384, 32767, 0]
    assert duration_s(np.zeros(8000)) == 0.5
