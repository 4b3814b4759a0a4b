"""Echo cancellation on the server: the avatar's own voice taken out of the microphone (WebRTC AEC3).

On speakers the microphone hears the avatar; without this the avatar takes its own voice for the
user talking over it and stops itself. Browsers cancel echo too, but not always (Firefox with some
devices, a mic and speakers on different devices, the page's AEC switched off), and never for the
audio of another program. Here the reference is exactly what the avatar plays: each 20 ms chunk is
handed to WebRTC's AEC3 (through livekit's `AudioProcessingModule`, a prebuilt wheel) in step with
the microphone, which is cleaned 10 ms at a time before the VAD hears it. AEC3
finds the delay between the two itself (network, jitter buffers, the room), and costs ~1-2 % of a
core. Measured on Piper speech fed back 30-120 ms later at -6 to -20 dB: 24-38 dB taken out, and
the VAD heard no speech in what was left, while the user talking over it was still heard.

Where there is no echo (headphones, or the browser's own canceller already took it out) AEC3 still
damps the first 50-100 ms of the user talking over the avatar, which clips "Wait" off "Wait, stop",
and it damps a noisy room as if it were echo. So the canceller watches whether the microphone hears
the avatar at all: whether the microphone's loudness, frame by frame over the last 2 s, follows the
avatar's at some delay. Where it does not, the microphone passes through untouched.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import numpy as np

from avatar.speech.audio import SAMPLE_RATE, to_int16

log = logging.getLogger(__name__)

FRAME = SAMPLE_RATE // 100  # AEC3 works on 10 ms frames
SILENT_RMS = 0.003  # -50 dBFS: quieter than this, the avatar is not speaking
ECHO_CORRELATION = 0.4  # the microphone's loudness follows the avatar's this closely: it hears the avatar
MAX_LAG_FRAMES = 40  # echo comes back within 400 ms of the reference (hand-on lead, network, jitter buffer, room)
RECHECK_FRAMES = 10  # how often (10 ms frames) to look again whether there is echo
# What AEC3 leaves of a loud echo while it is still converging can still sound like speech to the VAD: a
# frame it already took this much out of is mostly echo, and is damped 20 dB more. (The user talking over
# the avatar changes the frame far more than that takes out: their voice goes through.)
RESIDUAL_DB = 12.0
EVIDENCE_FRAMES = 200  # the last 2 s of the avatar speaking decide whether there is echo at all


class EchoCanceller:
    """One connection's echo canceller. `played()` the avatar's audio as it is due, `clean()` the microphone."""

    def __init__(self) -> None:
        self._apm: Any = None
        self._available = True
        self._render: deque[np.ndarray] = deque()  # 10 ms frames at 16 kHz played and not yet fed
        self._mic_rest = np.zeros(0, np.float32)
        self._render_rest = np.zeros(0, np.float32)
        self._downsample: Any = None  # a streaming resampler: 20 ms chunks resampled alone would click at the edges
        self.active_until = 0.0  # echo may still come until about then (for the log and tests)
        self._far_level: deque[float] = deque(maxlen=EVIDENCE_FRAMES + MAX_LAG_FRAMES)  # log loudness per frame
        self._near_level: deque[float] = deque(maxlen=EVIDENCE_FRAMES + MAX_LAG_FRAMES)
        self._echo = True  # until known: safe against echo
        self._frames = 0

    def _module(self) -> Any:
        if self._apm is None and self._available:
            try:
                from livekit import rtc

                self._rtc = rtc
                self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
            except Exception:  # no wheel for this platform: the voice still works, without echo cancellation
                log.exception("voice: echo cancellation unavailable (livekit's audio processing did not load)")
                self._available = False
        return self._apm

    def played(self, chunk: np.ndarray, rate: int, due: float) -> None:
        """The avatar's audio (float32 mono at `rate`), handed to the connection to play at clock time `due`."""
        if self._module() is None:
            return
        if self._downsample is None:
            import soxr

            self._downsample = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
        audio = np.concatenate((self._render_rest, self._downsample.resample_chunk(np.asarray(chunk, np.float32))))
        whole = audio.size // FRAME * FRAME
        self._render_rest = audio[whole:].copy()
        for start in range(0, whole, FRAME):
            self._render.append(audio[start : start + FRAME])
        self.active_until = max(self.active_until, due + whole / SAMPLE_RATE + 0.5)

    def forget_unplayed(self, now: float) -> None:
        """The avatar went quiet: what was handed on but not played yet will not be heard (nor echo)."""
        self._render.clear()

    def clean(self, mic: np.ndarray, now: float, user_speaking: bool = False) -> np.ndarray:
        """16 kHz microphone audio with the avatar's voice taken out (10 ms kept back when not whole)."""
        apm = self._module()
        if apm is None:
            return mic
        audio = np.concatenate((self._mic_rest, mic))
        whole = audio.size // FRAME * FRAME
        self._mic_rest = audio[whole:].copy()
        out = np.empty(whole, np.float32)
        for start in range(0, whole, FRAME):
            # The far end in lockstep with the near end, frame for frame (silence when the avatar is quiet):
            # both run at the same rate, so the delay between them stays put however frames bunch up on
            # the way, and AEC3's delay estimator finds it (the chunks are handed on ~100 ms before they play).
            far = self._render.popleft() if self._render else np.zeros(FRAME, np.float32)
            self._process(apm.process_reverse_stream, far)
            apm.set_stream_delay_ms(0)
            near = audio[start : start + FRAME]
            cleaned = self._process(apm.process_stream, near)
            removed_db = 20 * np.log10(max(_rms(near), 1e-9) / max(_rms(cleaned), 1e-9))
            avatar_speaking = _rms(far) >= SILENT_RMS
            self._far_level.append(float(np.log10(_rms(far) + 1e-4)))
            self._near_level.append(float(np.log10(_rms(near) + 1e-4)))
            self._frames += 1
            if self._frames % RECHECK_FRAMES == 0 and not user_speaking:
                echo, self._echo = self._echo, self._hears_avatar()
                if echo != self._echo:
                    log.debug("voice: the microphone %s the avatar", "hears" if self._echo else "no longer hears")
            if not self._echo:
                out[start : start + FRAME] = near
            elif avatar_speaking and removed_db >= RESIDUAL_DB:
                out[start : start + FRAME] = cleaned * 0.1
            else:
                out[start : start + FRAME] = cleaned
        return out

    def echo_heard(self) -> bool:
        """Whether the microphone has been hearing the avatar lately (cleaned audio is used only then)."""
        return self._echo

    def _hears_avatar(self) -> bool:
        far = np.asarray(self._far_level)
        near = np.asarray(self._near_level)
        spoken = np.count_nonzero(far > np.log10(SILENT_RMS))
        if spoken < EVIDENCE_FRAMES // 8:
            return self._echo  # the avatar said too little lately to tell: as before
        best = 0.0
        for lag in range(min(MAX_LAG_FRAMES, far.size - 20)):
            a, b = far[: far.size - lag], near[lag:]
            if a.std() > 1e-6 and b.std() > 1e-6:
                best = max(best, float(np.corrcoef(a, b)[0, 1]))
        # Echo is believed at once; its absence only after a second of the avatar speaking unheard.
        return best >= ECHO_CORRELATION or (self._echo and spoken < EVIDENCE_FRAMES // 2)

    def _process(self, step: Any, frame: np.ndarray) -> np.ndarray:
        data = self._rtc.AudioFrame(to_int16(frame).tobytes(), SAMPLE_RATE, 1, FRAME)
        step(data)
        return np.frombuffer(data.data, np.int16).astype(np.float32) / 32768.0


def _rms(frame: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(frame)))) if frame.size else 0.0
