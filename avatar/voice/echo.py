"""Echo cancellation on the server: the avatar's own voice taken out of the microphone (WebRTC AEC3).

On speakers the microphone hears the avatar; without this the avatar takes its own voice for the
user talking over it and stops itself. Browsers cancel echo too, but not always (Firefox with some
devices, a mic and speakers on different devices, the page's AEC switched off), and never for the
audio of another program. Here the reference is exactly what the avatar plays: each 20 ms chunk is
handed to WebRTC's AEC3 (through livekit's `AudioProcessingModule`, a prebuilt wheel) beside the
microphone audio heard when it was handed on (echo_reference.py), which is cleaned 10 ms at a time
before the VAD hears it. AEC3 finds the delay between the two itself (network, jitter buffers, the room), and costs ~1-2 % of a
core. Measured on Piper speech fed back 30-120 ms later at -6 to -20 dB: 24-38 dB taken out, and
the VAD heard no speech in what was left, while the user talking over it was still heard.

Where there is no echo (headphones, or the browser's own canceller already took it out) AEC3 still
damps the first 50-100 ms of the user talking over the avatar, which clips "Wait" off "Wait, stop",
and it damps a noisy room as if it were echo. So the canceller watches whether the microphone hears
the avatar at all: whether the microphone's loudness, frame by frame over the last 2 s, follows the
avatar's at some delay, and (before echo is believed) whether its spectrum repeats the avatar's at that
delay: a user who starts talking with the greeting can rise and fall with it by chance, but says other sounds.
Where it does not, and until that is known (the first 250 ms to 1 s of the avatar's voice), the microphone
passes through untouched.

AEC3 finds the delay anew each time the avatar starts talking after a silence (a reply, or carrying on
after "mm-hmm"), and over WebRTC (Opus, jitter) the first 100-150 ms of echo then pass through
untouched: measured -31 dB at the microphone, loud enough for Silero, so the avatar held its voice
at the start of nearly every reply and whisper sometimes made words of it. So the canceller also
learns how much quieter the echo comes back than the avatar's voice, and for the first 500 ms after
the avatar starts talking again, a frame no louder than the echo arriving then can be (what the
avatar said at the echo's measured delay; until that is measured, its loudest in the last 400 ms) is
silenced. (Only then: a user as quiet as the echo, talking over a converged AEC3, goes through.)

What AEC3 leaves can still sound like speech to the VAD and like words to whisper. Whether someone talked
over the avatar is told by loudness (`voice_over_echo_s`): the raw microphone clearly louder than the echo can
make it, at its measured delay and level, frame by frame.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from itertools import pairwise
from typing import Any

import numpy as np

from avatar.speech.audio import SAMPLE_RATE, to_int16
from avatar.voice.echo_reference import MicClock, RenderTimeline

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
# An echo's level against the avatar's varies this little (dB, median deviation), frame by frame: measured 0.5-2
# with Piper's voice fed back 30-120 ms later at -6 to -20 dB; a user talking at the same time: 4-10.
STEADY_ECHO_DB = 3.0
# While AEC3 converges: how far above the echo's level a frame is still taken for echo (its ups and downs).
ECHO_GATE_MARGIN_DB = 6.0
# The echo's delay, once measured, varies this much (10 ms frames: jitter). Before the delay was used, the gate
# took the loudest moment of the last 400 ms as the echo's: the user talking as a new sentence began lost whole
# syllables to it. (A window reaching 80 ms further back, for a room's reverberation, silenced some again.)
LAG_SLACK_FRAMES = 3
# Someone talking over the avatar: the microphone this much louder (dB) than its echo can be. The echo keeps within
# 0.5-2 dB of its level (STEADY_ECHO_DB); a user talking over it at a speaking level, 5-15 dB over the echo.
VOICE_OVER_ECHO_DB = 4.5
VOICE_LAG_SLACK_FRAMES = 4  # what the avatar said up to 40 ms either side of the echo's delay can be echoing
HISTORY_FRAMES = 1000  # 10 s
QUIET_BEFORE_ONSET_FRAMES = 20  # the avatar silent this long (200 ms), then talking: AEC3 converges again
# The avatar silent this long (700 ms): none of its voice can still be on the way back, and AEC3 would return the
# microphone as its high-pass leaves it. So AEC3 rests until the avatar speaks again: both of its streams skip
# the same frames, so they stay aligned (it finds the delay anew at each reply anyway). Its three calls a frame
# were 60% of the call's work on the event loop while the avatar is quiet, and that is the whole of the time
# from the user's last word to the reply, when whisper needs both cores.
REST_AFTER_FRAMES = MAX_LAG_FRAMES + 30
CONVERGING_FRAMES = 50  # for about this long (its echo comes 100-250 ms after the reference)
# Loudness alone can mislead: a user who starts talking with the avatar's greeting rises and falls with it by
# chance (correlation 0.4-0.9 measured, 1 rendering in 10 believed to be echo, and 200-700 ms of their words were
# silenced). An echo also repeats the avatar's sound, its spectrum frame by frame: at the lag found, the shapes of
# the two spectra (each frame's bands against its own mean, each band against its own mean) correlated 0.7-1.0 for
# Piper's voice fed back 30-120 ms later at -6 to -20 dB, in a room as reverberant as 0.9 s, and at most 0.46 for
# the user talking instead (60 renderings).
SPECTRUM_CORRELATION = 0.6
_FREQS = np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
_EDGES = np.geomspace(150, 6000, 13)  # 12 bands, each about a third of an octave wide
BANDS = np.stack([(_FREQS >= low) & (_FREQS < high) for low, high in pairwise(_EDGES)], 1).astype(np.float32)
WINDOW = np.hanning(FRAME).astype(np.float32)
NO_SPECTRUM = np.zeros(BANDS.shape[1], np.float32)


class EchoCanceller:
    """One connection's echo canceller. `played()` the avatar's audio as it is handed on, `clean()` the microphone."""

    def __init__(self) -> None:
        self._apm: Any = None
        self._available = True
        self._render = RenderTimeline()
        self._mic_clock = MicClock()
        self._mic_done = 0  # microphone samples cleaned so far
        self._mic_rest = np.zeros(0, np.float32)
        self._downsample: Any = None  # a streaming resampler: 20 ms chunks resampled alone would click at the edges
        self.active_until = 0.0  # echo may still come until about then (for the log and tests)
        self._far_level: deque[float] = deque(maxlen=EVIDENCE_FRAMES + MAX_LAG_FRAMES)  # log loudness per frame
        self._near_level: deque[float] = deque(maxlen=EVIDENCE_FRAMES + MAX_LAG_FRAMES)
        self._far_spectrum: deque[np.ndarray] = deque(maxlen=EVIDENCE_FRAMES + MAX_LAG_FRAMES)  # log band energies
        self._near_spectrum: deque[np.ndarray] = deque(maxlen=EVIDENCE_FRAMES + MAX_LAG_FRAMES)
        # Whether the microphone hears the avatar: None until known. Until then the microphone goes through as
        # it is: AEC3 knows nothing yet either, and with the avatar talking it takes whatever the microphone
        # hears for echo (a user talking over the greeting's start came out 60-80 dB down, and was never heard).
        self._echo: bool | None = None
        self._frames = 0
        self._far_recent: deque[float] = deque(maxlen=MAX_LAG_FRAMES)  # far RMS whose echo may still come
        self.echo_db: float | None = None  # how much louder (dB, < 0: quieter) the echo comes back, once measured
        self.echo_lag: int | None = None  # and how many frames after the avatar's voice was handed on
        self._measured_on = 0  # on how many frames of the avatar's voice they were measured
        self._far_quiet = QUIET_BEFORE_ONSET_FRAMES  # frames since the avatar's voice was last heard
        self._converging = 0  # frames left in which AEC3 may still be finding the echo again
        # The microphone's loudness and the avatar's, frame by frame (dB), for the last 10 s: who was talking.
        self._heard_db: deque[float] = deque(maxlen=HISTORY_FRAMES)
        self._said_db: deque[float] = deque(maxlen=HISTORY_FRAMES)

    def _module(self) -> Any:
        if self._apm is None and self._available:
            try:
                from livekit import rtc

                self._rtc = rtc
                self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
                # The same high-pass alone, for the microphone while it is not known whether there is echo.
                self._high_pass = rtc.AudioProcessingModule(high_pass_filter=True)
            except Exception:  # no wheel for this platform: the voice still works, without echo cancellation
                log.exception("voice: echo cancellation unavailable (livekit's audio processing did not load)")
                self._available = False
        return self._apm

    def played(self, chunk: np.ndarray, rate: int, at: float) -> None:
        """The avatar's audio (float32 mono at `rate`), handed to the connection at clock time `at`."""
        if self._module() is None:
            return
        if self._downsample is None:
            import soxr

            self._downsample = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
        audio = self._downsample.resample_chunk(np.asarray(chunk, np.float32))
        self._render.write(at, audio)
        self.active_until = max(self.active_until, at + audio.size / SAMPLE_RATE + 0.5)

    def forget_unplayed(self, unsent_s: float) -> None:
        """The avatar went quiet and the connection's queue, its last `unsent_s` seconds, was dropped: that audio
        never plays, so it never echoes, and what comes next plays at once. (What was already sent still plays and
        echoes: its reference stays.) A reference left for audio never played looked like an avatar the microphone
        does not hear, and kept the echo unknown through the first reply's holds."""
        self._render.unwrite(round(unsent_s * SAMPLE_RATE))
        self._render.restart()

    def clean(self, mic: np.ndarray, now: float, user_speaking: bool = False) -> np.ndarray:
        """16 kHz microphone audio with the avatar's voice taken out (10 ms kept back when not whole)."""
        apm = self._module()
        if apm is None:
            return mic
        self._mic_clock.arrived(mic.size, now)
        audio = np.concatenate((self._mic_rest, mic))
        whole = audio.size // FRAME * FRAME
        self._mic_rest = audio[whole:].copy()
        out = np.empty(whole, np.float32)
        for start in range(0, whole, FRAME):
            # The far end handed on while this frame was being heard (echo_reference.py: a steady delay).
            heard_at = self._mic_clock.sample_time(self._mic_done + start)
            far = self._render.read(heard_at, FRAME)
            near = audio[start : start + FRAME]
            far_rms, near_rms = _rms(far), _rms(near)  # (each used several times below)
            avatar_speaking = far_rms >= SILENT_RMS
            resting = not avatar_speaking and self._far_quiet >= REST_AFTER_FRAMES and not self._converging
            if resting:
                # At rest (see REST_AFTER_FRAMES); the microphone as it is when it does not hear the avatar at all.
                filtered = near if self._echo is False else self._process(self._high_pass.process_stream, near)
                cleaned = filtered
            else:
                self._process(apm.process_reverse_stream, far)
                apm.set_stream_delay_ms(0)
                cleaned = self._process(apm.process_stream, near)
                filtered = self._process(self._high_pass.process_stream, near)
            removed_db = 20 * np.log10(max(near_rms, 1e-9) / max(_rms(cleaned), 1e-9))
            self._far_level.append(float(np.log10(far_rms + 1e-4)))
            self._near_level.append(float(np.log10(near_rms + 1e-4)))
            # (At rest the avatar is silent: those frames never count, and are not worth an FFT.)
            self._far_spectrum.append(NO_SPECTRUM if resting else _spectrum(far))
            self._near_spectrum.append(NO_SPECTRUM if resting else _spectrum(near))
            self._far_recent.append(far_rms)
            reference_db = self._reference_db()  # the loudest the echo arriving now can be, before the path
            self._heard_db.append(_db(near_rms))
            self._said_db.append(_db(far_rms))
            self._frames += 1
            if not avatar_speaking:
                self._far_quiet += 1
            elif self._far_quiet >= QUIET_BEFORE_ONSET_FRAMES:
                self._far_quiet, self._converging = 0, CONVERGING_FRAMES
            else:
                self._far_quiet = 0
            self._converging = max(0, self._converging - 1)
            # While the user talks their voice hides the echo's pattern: only then look for echo not yet known
            # (its own sound, let through while unknown, would otherwise keep the VAD hearing "speech").
            if self._frames % RECHECK_FRAMES == 0 and (not user_speaking or self._echo is None):
                heard = self._hears_avatar()
                echo, self._echo = self._echo, heard if heard or not user_speaking else self._echo
                if echo != self._echo:
                    log.debug("voice: the microphone %s the avatar", "hears" if self._echo else "no longer hears")
            if self._echo is None:
                out[start : start + FRAME] = filtered  # AEC3's filtering, not its guesses about echo
            elif not self._echo:
                out[start : start + FRAME] = near
            elif self._converging and self._echo_level(cleaned, reference_db):
                out[start : start + FRAME] = 0.0  # no louder than the echo: what AEC3 let through of it
            elif avatar_speaking and removed_db >= RESIDUAL_DB:
                out[start : start + FRAME] = cleaned * 0.1
            else:
                out[start : start + FRAME] = cleaned
        self._mic_done += whole
        return out

    def voice_over_echo_s(self, last_s: float) -> float | None:
        """Of the microphone's last `last_s` seconds, how long it was clearly louder than the avatar's echo can make
        it (VOICE_OVER_ECHO_DB, at the echo's measured delay and level): someone talking, not the echo AEC3 left
        (whisper makes words of that too). None: not known (the microphone is not known to hear the avatar, or
        its echo's delay and level were measured on less than a second of the avatar's voice: at a call's start,
        held again and again, they came out 7-26 frames and 2-12 dB off)."""
        if not self._echo or self.echo_unmeasured():
            return None
        frames = min(len(self._heard_db), round(last_s * 100))
        if frames <= 0:
            return 0.0
        heard = np.asarray(self._heard_db)[len(self._heard_db) - frames :]
        # What the avatar said that can be echoing in each of those frames: its loudest within the slack around the
        # delay, so a delay a little off, or a room's reverberation, cannot make the echo look like a voice.
        slack, said = VOICE_LAG_SLACK_FRAMES, np.asarray(self._said_db)
        # Padded so that window j spans what was said `echo_lag` ± slack frames before the microphone's frame j.
        padded = np.concatenate((np.full(self.echo_lag + slack, -np.inf), said, np.full(slack, -np.inf)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * slack + 1)[said.size - frames : said.size]
        loudest = windows.max(axis=1)
        ceiling = np.where(loudest > SILENT_DB, loudest + self.echo_db, -np.inf)
        voice = (heard >= ceiling + VOICE_OVER_ECHO_DB) & (heard >= SILENT_DB)
        return float(np.count_nonzero(voice)) / 100

    def echo_heard(self) -> bool:
        """Whether the microphone has been hearing the avatar lately (cleaned audio is used only then)."""
        return bool(self._echo)

    def echo_unmeasured(self) -> bool:
        """Whether the microphone may hear the avatar but its echo's delay and level are not measured yet (a call's
        first second of the avatar's voice, when it has no greeting): loudness cannot tell that echo from someone
        talking over it (`voice_over_echo_s` is None). False once the microphone is known not to hear it."""
        if not self._available or self._echo is False:
            return False
        return self.echo_db is None or self.echo_lag is None or self._measured_on < EVIDENCE_FRAMES // 2

    def _hears_avatar(self) -> bool | None:
        """Whether the microphone's loudness follows the avatar's (None: not known yet)."""
        far = np.asarray(self._far_level)
        near = np.asarray(self._near_level)
        silent = np.log10(SILENT_RMS)
        spoken = np.count_nonzero(far > silent)
        if spoken < EVIDENCE_FRAMES // 8:
            return self._echo  # the avatar said too little lately to tell: as before
        best, best_lag = 0.0, 0
        for lag in range(min(MAX_LAG_FRAMES, far.size - 20)):
            a, b = far[: far.size - lag], near[lag:]
            # Only the frames where the avatar speaks: a user who starts talking as the avatar does goes from
            # silence to speech with it, and that one step alone looked like echo (then AEC3 took their words).
            speaking = a > silent
            a, b = a[speaking], b[speaking]
            if a.size >= EVIDENCE_FRAMES // 8 and a.std() > 1e-6 and b.std() > 1e-6:
                correlation = float(np.corrcoef(a, b)[0, 1])
                if correlation > best:
                    best, best_lag = correlation, lag
        a, b = far[: far.size - best_lag], near[best_lag:]
        gains = 20 * (b[a > silent] - a[a > silent])  # dB, the microphone against the avatar, frame by frame
        # (Once it is known, loudness keeps it: a reverberant room blurs the spectrum more than the loudness.)
        follows = best >= ECHO_CORRELATION and (
            bool(self._echo) or self._same_sound(best_lag, a > silent) >= SPECTRUM_CORRELATION
        )
        if follows and spoken >= min(self._measured_on, EVIDENCE_FRAMES // 2):
            # The echo's level: the median (the user talking now and then, louder, does not move a median). Measured
            # again only on as much of the avatar's voice as before, up to a second: at a reply's start, on less, the
            # delay came out 10-20 frames off and the level 6-14 dB low now and then, and the echo then looked like
            # someone talking (voice_over_echo_s).
            self.echo_db, self.echo_lag, self._measured_on = float(np.median(gains)), best_lag, spoken
        if follows and (self._echo is not None or spoken >= EVIDENCE_FRAMES // 2):
            return True  # echo is believed at once; its absence only after a second of the avatar speaking unheard
        if follows and np.median(np.abs(gains - np.median(gains))) <= STEADY_ECHO_DB:
            # Not known yet, with little said: the user may have started talking with the avatar, and two voices
            # can rise and fall together for a moment. An echo also keeps one level below the avatar's.
            return True
        return self._echo if spoken < EVIDENCE_FRAMES // 2 else False

    def _same_sound(self, lag: int, speaking: np.ndarray) -> float:
        """How alike the two spectra's shapes are, the microphone `lag` frames after the avatar (see BANDS)."""
        far = np.asarray(self._far_spectrum)[: len(self._far_spectrum) - lag][speaking]
        near = np.asarray(self._near_spectrum)[lag:][speaking]
        far = far - far.mean(axis=1, keepdims=True)  # the shape of each frame's spectrum, not its loudness
        near = near - near.mean(axis=1, keepdims=True)
        far, near = far - far.mean(axis=0), near - near.mean(axis=0)  # the room's and microphone's colour out
        scale = float(np.sqrt(np.sum(far * far) * np.sum(near * near)))
        return float(np.sum(far * near)) / scale if scale > 0 else 0.0

    def _reference_db(self) -> float:
        """How loud (dB) the avatar was when it said what can be echoing now: around the echo's measured delay,
        else the loudest it was in the last 400 ms."""
        newest_first = list(reversed(self._far_recent))
        if self.echo_lag is not None:
            lag = self.echo_lag
            around_lag = newest_first[max(0, lag - LAG_SLACK_FRAMES) : lag + LAG_SLACK_FRAMES + 1]
            newest_first = around_lag or newest_first
        return _db(max(newest_first, default=0.0))

    def _echo_level(self, cleaned: np.ndarray, reference_db: float) -> bool:
        """Whether a cleaned frame is no louder than the echo arriving now can be (`reference_db`: _reference_db)."""
        if self.echo_db is None or reference_db <= SILENT_DB:
            return False
        return _db(_rms(cleaned)) < reference_db + self.echo_db + ECHO_GATE_MARGIN_DB

    def _process(self, step: Any, frame: np.ndarray) -> np.ndarray:
        data = self._rtc.AudioFrame(to_int16(frame).tobytes(), SAMPLE_RATE, 1, FRAME)
        step(data)
        return np.frombuffer(data.data, np.int16).astype(np.float32) / 32768.0


def _db(rms: float) -> float:
    return 20 * math.log10(rms + 1e-9)


SILENT_DB = _db(SILENT_RMS)


def _spectrum(frame: np.ndarray) -> np.ndarray:
    """A 10 ms frame's log energy in each of the BANDS."""
    power = np.square(np.abs(np.fft.rfft(frame * WINDOW)))
    return np.log10(power @ BANDS + 1e-7)


def _rms(frame: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(frame)))) if frame.size else 0.0
