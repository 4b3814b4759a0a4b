"""Audio normalisation: any array a browser, FastRTC or a model hands us -> float32 mono at the rate we need."""

from __future__ import annotations

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Silero VAD and Whisper expect
# More channels than this on the short axis means the array is not (channels, n) or (n, channels).
_MAX_CHANNELS = 16
_EMPTY = np.zeros(0, dtype=np.float32)
_MIN_RATE, _MAX_RATE = 1_000, 1_000_000


def to_float32(samples: object) -> np.ndarray:
    """Samples of any numeric dtype as float32 in [-1, 1], same shape; NaN/inf become silence/full scale."""
    try:
        array = np.asarray(samples)
    except (TypeError, ValueError):
        return _EMPTY.copy()
    if array.dtype.kind == "i":
        # Scale by the type's range so int16 (FastRTC, WAV) and int32 PCM both land in [-1, 1).
        out = array.astype(np.float32) / float(-np.iinfo(array.dtype).min)
    elif array.dtype.kind == "u":
        # Unsigned PCM (8-bit WAV) is offset binary: the midpoint is silence.
        mid = float(np.iinfo(array.dtype).max + 1) / 2
        out = (array.astype(np.float32) - mid) / mid
    elif array.dtype.kind in "fb":
        out = array.astype(np.float32)
    elif array.dtype.kind == "c":
        out = array.real.astype(np.float32)
    else:
        return _EMPTY.copy()
    # nan_to_num turns 0-d arrays into numpy scalars; asarray keeps the result an array.
    out = np.asarray(np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0), dtype=np.float32)
    return np.clip(out, -1.0, 1.0)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a 1-D, (channels, n) or (n, channels) array into a 1-D array."""
    array = np.squeeze(samples)
    if array.size == 0:
        return _EMPTY.copy()
    if array.ndim == 0:
        return array.reshape(1)
    if array.ndim == 1:
        return array
    if array.ndim > 2:
        return array.reshape(-1)
    # FastRTC sends (channels, n), soundfile and most libraries (n, channels): the channel axis
    # is the short one. A square array is ambiguous; (channels, n) is the FastRTC convention.
    channel_axis = 0 if array.shape[0] <= array.shape[1] else 1
    if array.shape[channel_axis] > _MAX_CHANNELS:
        return array.reshape(-1)
    return array.mean(axis=channel_axis, dtype=np.float32)


def resample(samples: np.ndarray, rate: float, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample 1-D float32 audio with soxr (falling back to linear interpolation, never raising)."""
    if not _valid_rate(rate):
        logger.debug("audio with invalid sample rate %r: used as %d Hz", rate, target_rate)
        return samples
    if samples.size == 0 or int(rate) == target_rate:
        return samples
    try:
        import soxr

        out = soxr.resample(samples, int(rate), target_rate, quality="HQ")
    except Exception:  # odd lengths or rates must never break a voice turn
        logger.debug("soxr failed on %d samples at %r Hz; interpolating", samples.size, rate, exc_info=True)
        n_out = round(samples.size * target_rate / float(rate))
        if n_out <= 0:
            return _EMPTY.copy()
        positions = np.linspace(0, samples.size - 1, n_out)
        out = np.interp(positions, np.arange(samples.size), samples)
    return np.asarray(out, dtype=np.float32)


def _valid_rate(rate: object) -> bool:
    try:
        value = float(rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    # Real audio runs from 8 kHz telephony to 384 kHz studio gear; anything far outside is a bug
    # upstream, and resampling by its ratio could allocate gigabytes.
    return math.isfinite(value) and _MIN_RATE <= value <= _MAX_RATE


def to_mono_16k(samples: object, rate: float, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any audio array (int/float, mono/multi-channel, any rate) as contiguous float32 mono at 16 kHz.

    Never raises on odd audio: empty input gives an empty array, NaN/inf are replaced, values are
    clipped to [-1, 1] (resampling can overshoot), and an unusable rate is taken as the target rate.
    """
    mono = to_mono(to_float32(samples))
    out = resample(np.ascontiguousarray(mono, dtype=np.float32), rate, target_rate)
    return np.ascontiguousarray(np.clip(out, -1.0, 1.0), dtype=np.float32)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as int16 PCM (what FastRTC and WAV files take), clipping out-of-range values."""
    floats = to_float32(samples)
    return (floats * 32767.0).round().astype(np.int16)


def duration_s(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Length in seconds of a 1-D array at `rate`."""
    return float(np.asarray(samples).shape[-1]) / rate if rate > 0 else 0.0


def trim_leading_silence(samples: np.ndarray, rate: int, level: float = 0.01, keep_s: float = 0.01) -> np.ndarray:
    """`samples` from `keep_s` before the first one louder than `level` (all of them when none is): Piper starts
    each sentence with 0-40 ms of silence, which a listener waiting for the reply only waits through."""
    loud = np.flatnonzero(np.abs(samples) > level)
    if loud.size == 0:
        return samples
    return samples[max(0, int(loud[0]) - int(keep_s * rate)) :]
