"""Turn-taking from a microphone: Silero VAD 32 ms at a time -> speech onset, short pauses, end of utterance.

FastRTC's ReplyOnPause runs its VAD on 0.6 s chunks and only reacts to a *pause*; a voice that
feels alive needs the onset of speech (to stop talking when the user talks over it) and a pause
measured to the window. So this runs Silero window by window with its recurrent state kept across
windows, the way the model is meant to stream.

A short pause (`pause_ms`, ~200 ms) is reported as a `Pause` with the audio so far: the voice handler
asks the end-of-turn model whether the utterance sounds finished and, if so, ends it at once with
`end_turn()`. Otherwise the utterance ends at the long limit (`min_silence_ms`) as before.
"""

from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from avatar.speech.audio import SAMPLE_RATE
from avatar.speech.vad import WINDOW, one_core_session, silero_onnx_path

WINDOW_MS = WINDOW * 1000 / SAMPLE_RATE  # 32 ms
_CONTEXT = 64  # Silero v5 wants the last 64 samples of the previous window in front of each window
_STATE_SHAPE = (2, 1, 128)


class SileroSession:
    """The Silero ONNX session, loaded once and shared: `run` is safe from several connections."""

    _session: Any = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> Any:
        if cls._session is None:
            with cls._lock:
                if cls._session is None:
                    cls._session = one_core_session(silero_onnx_path())
        return cls._session


class SileroStream:
    """Speech probability of consecutive 32 ms windows of one audio stream (state kept between calls)."""

    def __init__(self) -> None:
        self._session = SileroSession.get()
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def probability(self, window: np.ndarray) -> float:
        frame = np.concatenate((self._context, window))[np.newaxis, :]
        out, self._state = self._session.run(None, {"input": frame, "state": self._state, "sr": self._sr})
        self._context = window[-_CONTEXT:]
        return float(np.asarray(out).reshape(-1)[0])


@dataclass(frozen=True)
class EndpointOptions:
    """threshold: a window is speech at or above it, silence below threshold - 0.15 (Silero's hysteresis).
    onset_ms: speech this long means the user started talking (and interrupts the avatar).
    min_speech_ms: utterances with less speech than this are dropped (coughs, clicks, door slams).
    min_silence_ms: a pause this long ends the utterance (the limit when it does not sound finished).
    pause_ms: a pause this long is reported (`Pause`), for the end-of-turn model to judge.
    quiet_ms: a silence this long is reported first (`Quiet`): the user may be done, start transcribing.
    max_utterance_s: an utterance is cut here even if the user keeps talking (the rest, up to the
        next pause, is not heard: the avatar answers what it got).
    pre_roll_ms: audio kept from before the onset, so the first syllable is not clipped.
    end_on_pause: False in push-to-talk, where the button, not a pause, ends the turn.
    """

    threshold: float = 0.5
    onset_ms: int = 64
    min_speech_ms: int = 250
    min_silence_ms: int = 600
    pause_ms: int = 192  # six windows (200 would round up to seven)
    quiet_ms: int = 32  # one window: whisper's word error on the labelled set was the same as at 96 (9.2 vs 9.0 %)
    max_utterance_s: float = 30.0
    pre_roll_ms: int = 300
    end_on_pause: bool = True

    def with_(self, **changes: Any) -> EndpointOptions:
        return replace(self, **changes)


@dataclass
class SpeechStarted:
    """The user started talking (`onset_ms` of speech seen)."""


@dataclass
class Utterance:
    """One finished utterance: float32 mono 16 kHz audio and why it ended."""

    audio: np.ndarray
    reason: Literal["pause", "max_length", "released"]
    speech_s: float
    pause_s: float = 0.0  # the silence after the last word when it ended


@dataclass
class Quiet:
    """The user has been quiet `quiet_ms` after enough speech: `audio` is the utterance so far."""

    audio: np.ndarray


@dataclass
class Pause:
    """The user paused `pause_ms` after enough speech: `audio` is the utterance so far, pause included."""

    number: int  # which pause of the connection: `end_turn(number)` ends the utterance if it is still this pause
    audio: np.ndarray
    speech_s: float


@dataclass
class NotSpeech:
    """What started like speech was too short to be an utterance (dropped)."""

    reason: Literal["pause", "max_length", "released"]


Event = SpeechStarted | Quiet | Pause | Utterance | NotSpeech


def windows(ms: float) -> int:
    return max(1, math.ceil(ms / WINDOW_MS))


class Endpointer:
    """Feed 16 kHz audio of any length; get `SpeechStarted` / `Utterance` / `NotSpeech` events back."""

    def __init__(self, options: EndpointOptions | None = None, vad: SileroStream | None = None) -> None:
        self.options = options or EndpointOptions()
        self.vad = vad or SileroStream()
        self.utterances = 0  # utterances started so far (onsets)
        self._pauses = 0  # Pause events so far
        self._paused = False  # the current silence has been reported as a Pause
        self._pending = np.zeros(0, dtype=np.float32)
        self._pre_roll: collections.deque[np.ndarray] = collections.deque(maxlen=self._pre_roll_windows())
        self._reset_utterance()

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def speech_s(self) -> float:
        """Seconds of speech in the utterance so far."""
        return self._speech_windows * WINDOW / SAMPLE_RATE

    @property
    def heard_s(self) -> float:
        """Seconds of audio in the utterance so far, pre-roll and pauses included (0 between utterances)."""
        return len(self._utterance) * WINDOW / SAMPLE_RATE if self._in_speech else 0.0

    def audio_so_far(self) -> np.ndarray:
        """The utterance heard so far (empty between utterances)."""
        return np.concatenate(self._utterance) if self._in_speech and self._utterance else np.zeros(0, np.float32)

    def end_turn(self, pause: int) -> Utterance | None:
        """End the utterance now, if the user is still in pause number `pause` (else None: they went on)."""
        if not (self._in_speech and self._paused and self._pauses == pause):
            return None
        event = self._end("pause", trim=True)
        return event if isinstance(event, Utterance) else None

    def _pre_roll_windows(self) -> int:
        # The onset windows themselves are part of the utterance, plus pre_roll_ms before them.
        return windows(self.options.pre_roll_ms) + windows(self.options.onset_ms)

    def set_options(self, options: EndpointOptions) -> None:
        self.options = options
        if self._pre_roll.maxlen != self._pre_roll_windows():
            self._pre_roll = collections.deque(self._pre_roll, maxlen=self._pre_roll_windows())

    def reset(self) -> None:
        """Forget everything heard (muted mic, avatar speaking in half-duplex)."""
        self._pending = np.zeros(0, dtype=np.float32)
        self._pre_roll.clear()
        self.vad.reset()
        self._reset_utterance()

    def _reset_utterance(self) -> None:
        self._in_speech = False
        self._skip_until_pause = False  # after a cut-off: the rest of that speech is not a new utterance
        self._run = 0  # consecutive speech windows before the onset
        self._utterance: list[np.ndarray] = []
        self._paused = self._quiet = False
        self._speech_windows = 0
        self._silence_windows = 0
        self._last_speech_index = 0  # windows into the utterance at the end of the latest speech window

    def feed(self, samples: np.ndarray) -> list[Event]:
        events: list[Event] = []
        audio = np.concatenate((self._pending, np.asarray(samples, dtype=np.float32).reshape(-1)))
        n_windows = audio.size // WINDOW
        for i in range(n_windows):
            event = self._window(audio[i * WINDOW : (i + 1) * WINDOW])
            if event is not None:
                events.append(event)
        self._pending = audio[n_windows * WINDOW :].copy()
        return events

    def finish(self, reason: Literal["released", "max_length", "pause"] = "released") -> Event | None:
        """End the utterance now (push-to-talk released): what was said so far, or None if nothing."""
        if not self._in_speech:
            self._run = 0
            self._pre_roll.clear()
            return None
        return self._end(reason, trim=False)

    def _window(self, window: np.ndarray) -> Event | None:
        prob = self.vad.probability(window)
        o = self.options
        speech = prob >= o.threshold
        silence = prob < max(o.threshold - 0.15, 0.01)
        if self._skip_until_pause:
            self._silence_windows = 0 if speech else self._silence_windows + silence
            if self._silence_windows >= windows(o.min_silence_ms):
                self._skip_until_pause, self._silence_windows = False, 0
            return None
        if not self._in_speech:
            self._pre_roll.append(window)
            self._run = self._run + 1 if speech else (0 if silence else self._run)
            if self._run >= windows(o.onset_ms):
                self._in_speech = True
                self.utterances += 1
                self._utterance = list(self._pre_roll)
                self._pre_roll.clear()
                self._speech_windows = self._run
                self._last_speech_index = len(self._utterance)
                return SpeechStarted()
            return None
        self._utterance.append(window)
        if speech:
            self._speech_windows += 1
            self._silence_windows = 0
            self._paused = self._quiet = False
        if silence:
            self._silence_windows += 1
        else:
            # Between the thresholds is still the tail of a word ("tea" fading out): keep it.
            self._last_speech_index = len(self._utterance)
        if o.end_on_pause and self._silence_windows >= windows(o.min_silence_ms):
            return self._end("pause", trim=True)
        enough_speech = self.speech_s * 1000 >= o.min_speech_ms
        if o.end_on_pause and not self._quiet and self._silence_windows >= windows(o.quiet_ms) and enough_speech:
            self._quiet = True
            return Quiet(np.concatenate(self._utterance))
        if o.end_on_pause and not self._paused and self._silence_windows >= windows(o.pause_ms) and enough_speech:
            self._paused = True
            self._pauses += 1
            return Pause(self._pauses, np.concatenate(self._utterance), self.speech_s)
        if len(self._utterance) * WINDOW >= o.max_utterance_s * SAMPLE_RATE:
            return self._end("max_length", trim=False)
        return None

    def _end(self, reason: Literal["pause", "max_length", "released"], trim: bool) -> Event:
        utterance = self._utterance
        if trim:
            # Keep a little of the pause after the last word: whisper clips word endings otherwise.
            utterance = utterance[: self._last_speech_index + windows(200)]
        speech_s = self._speech_windows * WINDOW / SAMPLE_RATE
        pause_s = self._silence_windows * WINDOW / SAMPLE_RATE
        self._reset_utterance()
        self._skip_until_pause = reason == "max_length"
        if speech_s * 1000 < self.options.min_speech_ms:
            return NotSpeech(reason)
        audio = np.concatenate(utterance) if utterance else np.zeros(0, dtype=np.float32)
        return Utterance(audio=audio, reason=reason, speech_s=speech_s, pause_s=pause_s)
