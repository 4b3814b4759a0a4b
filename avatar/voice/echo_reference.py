"""The echo canceller's reference, on a clock: what the avatar handed on when, and when the microphone heard.

AEC3 needs the avatar's voice (the render) a steady time ahead of its echo in the microphone. Pairing
them frame for frame as they arrive made that time depend on how late the microphone's frames were
processed at the moment the avatar started talking (the event loop shares 2 cores with whisper and
Piper), so it changed with every reply and after every pause, and AEC3 let the first 100-150 ms of
echo through each time while it found the delay again. Here both sides carry times instead: the
render is laid out by when each chunk was handed on (no chunk can play before it is sent, so the
render always leads its echo), and each microphone sample's time comes from its count since the
call began, anchored to the least-delayed arrival, which processing delays cannot shift.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from avatar.speech.audio import SAMPLE_RATE

SNAP_SAMPLES = SAMPLE_RATE // 200  # a chunk handed on within 5 ms of the previous one's end follows it


class RenderTimeline:
    """The avatar's audio at 16 kHz by absolute sample time (clock seconds x 16,000), the last `seconds`."""

    def __init__(self, seconds: float = 4.0) -> None:
        self._audio = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
        self._stamp = np.full(self._audio.size, -1, np.int64)  # which absolute sample each slot holds
        self._end: int | None = None  # where the audio handed on last ends

    def write(self, at: float, audio: np.ndarray) -> None:
        """Audio handed on at clock time `at`; audio handed on before it was over plays after it (a burst)."""
        start = round(at * SAMPLE_RATE)
        if self._end is not None and start < self._end + SNAP_SAMPLES:
            start = self._end
        index = np.arange(start, start + audio.size)
        self._audio[index % self._audio.size] = audio
        self._stamp[index % self._audio.size] = index
        self._end = start + audio.size

    def unwrite(self, n: int) -> None:
        """Forget the last `n` samples handed on: they were dropped before they played."""
        if self._end is None or n <= 0:
            return
        index = np.arange(max(self._end - n, self._end - self._audio.size), self._end)
        slots = index % self._audio.size
        self._stamp[slots[self._stamp[slots] == index]] = -1
        self._end = int(index[0])

    def restart(self) -> None:
        """What is handed on next starts at its own time (the queue before it was dropped)."""
        self._end = None

    def read(self, start: int, n: int) -> np.ndarray:
        """Samples [start, start + n) in absolute sample time; silence where nothing was handed on."""
        index = np.arange(start, start + n)
        slots = index % self._audio.size
        return np.where(self._stamp[slots] == index, self._audio[slots], 0.0).astype(np.float32)


class MicClock:
    """When each microphone sample was heard: its count since the first, plus the least delay seen lately."""

    def __init__(self, window: int = 150) -> None:
        self._samples = 0
        self._offsets: deque[float] = deque(maxlen=window)  # arrival minus count, per delivery (~3 s)

    def arrived(self, n: int, now: float) -> None:
        """`n` more samples arrived at clock time `now`."""
        self._samples += n
        self._offsets.append(now - self._samples / SAMPLE_RATE)

    def sample_time(self, sample: int) -> int:
        """The absolute sample time (clock seconds x 16,000) of the microphone's `sample`-th sample."""
        return round(min(self._offsets) * SAMPLE_RATE) + sample
