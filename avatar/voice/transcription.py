"""Transcription while the user talks: whisper over the audio so far, shown as it grows; the last pass is the final one.

Whisper transcribes a whole utterance at once, and on this machine that takes a few hundred ms.
Waiting for the end of the turn to start it puts all of that between the user's last word and
the reply. So whisper runs while they talk (every `LIVE_INTERVAL_S` of speech, whenever it is
free) and again the moment they pause (the first silent VAD window): when the pause turns out to
end the turn, that pass is already running or done, and nothing was said since, so it *is* the
final transcript. Only when the user said more after it does the end of the turn wait for a new
pass. A pass nobody waits for that a newer one supersedes (a live pass, or one started at a gap
between words that the user talked through) is told to stop. whisper.cpp checks that only after its
encoder (measured: ~185 ms on one core either way), so in the app that saves the decoder's time, not
the encoder's; and a live pass still in its encoder held the final pass back (the median of a bench
run's final passes was 319 ms where whisper took ~215). So live passes run in a process of their own
(`WhisperWorker`), killed at once when the final pass starts.

A pass is keyed by what it heard: (utterance number, speech windows so far, carried audio): the
same key means no word was added since.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from avatar.speech.stt import Transcript
from avatar.voice.models import VoiceModels
from avatar.voice.words import heard_words

log = logging.getLogger(__name__)

LIVE_INTERVAL_S = 0.7  # seconds of speech between live passes (a pass of tiny.en takes ~0.3-0.5 s on one core)
LIVE_MIN_SPEECH_S = 0.6  # no live pass on the first syllables: nothing worth showing yet

Key = tuple[int, int, int]


@dataclass
class Pass:
    key: Key
    live: bool
    speech_s: float = 0.0  # the speech the VAD measured in its audio (for a live pass)
    task: asyncio.Task[Transcript] = field(init=False)
    aborted: bool = False
    in_worker: bool = False  # a live pass in the live transcription process: stopping it kills it at once
    awaited: bool = False  # a turn or a judgement waits for this pass: it is never aborted


def final_threads(stt_threads: int) -> int:
    """Threads for the pass the reply waits on: both cores when there are two (the user is silent then)."""
    return max(stt_threads, min(2, os.cpu_count() or 1))


class LiveTranscriber:
    """One connection's whisper passes. `on_text` gets each live result (what the page shows)."""

    def __init__(self, models: VoiceModels, on_text: Callable[[str], None]) -> None:
        self.models = models
        self.on_text = on_text
        self._pass: Pass | None = None
        self._last_live_speech_s = 0.0
        self.prompt = ""  # whisper's prompt for this utterance: the names in the call (set as it starts)
        self._live_heard: tuple[Transcript, float] | None = None  # this utterance's newest live result, its speech

    def reset(self) -> None:
        """A new utterance: forget the live cadence (a pass still running finishes on its own)."""
        self._last_live_speech_s = 0.0
        self._live_heard = None
        worker = self.models.live_stt()
        if worker is not None:
            worker.start()  # if the last turn's final pass stopped it: up before this utterance's first live pass

    def live_words(self) -> str:
        """The newest live transcript of this utterance if it is believable (see words.heard_words), else "".
        For when the final pass is not: over a reply's echo, its last words can turn the whole pass to guesswork
        ("Wait, stop for a moment." came back at p=0.43 where the live pass a moment before had it at 0.91)."""
        if self._live_heard is None:
            return ""
        transcript, speech_s = self._live_heard
        return heard_words(transcript, speech_s)

    def busy(self) -> bool:
        return self._pass is not None and not self._pass.task.done()

    def maybe_live(self, key: Key, speech_s: float, audio: Callable[[], np.ndarray]) -> None:
        """While the user talks: start a live pass on the audio so far if one is due and whisper is free."""
        current = self._pass
        if current is not None and not current.live and current.key != key and not current.awaited:
            current.aborted = True  # started at a gap between words, and the user went on: it is stale
        if current is not None and current.key == key:
            return  # nothing said since the latest pass (the user is pausing): it already has every word
        if not self.models.ready or self.busy() or speech_s < LIVE_MIN_SPEECH_S:
            return
        if speech_s - self._last_live_speech_s < LIVE_INTERVAL_S:
            return
        worker = self.models.live_stt()
        if worker is not None and not worker.ready():
            worker.start()  # (again, after a final pass stopped it): the live pass comes once it is up
            return
        self._last_live_speech_s = speech_s
        self._start(key, audio(), live=True, speech_s=speech_s)

    def at_pause(self, key: Key, audio: np.ndarray) -> None:
        """The user paused: transcribe everything so far now (the end of the turn may be a moment away)."""
        current = self._pass
        if current is not None and current.key == key:
            return
        self._start(key, audio, live=False)

    async def final(self, key: Key, audio: np.ndarray) -> Transcript:
        """The utterance's transcript: the latest pass when nothing was said after it, else a new pass."""
        current = self._pass
        if current is not None and current.key == key and not current.aborted:
            current.awaited = True
            try:
                result = await asyncio.shield(current.task)
                if not result.aborted:
                    return result
            except Exception:  # that pass failed: try once more below
                log.debug("voice: reusing a transcription pass failed", exc_info=True)
        new = self._start(key, audio, live=False)
        new.awaited = True
        return await new.task

    def _start(self, key: Key, audio: np.ndarray, live: bool, speech_s: float = 0.0) -> Pass:
        previous = self._pass
        worker = self.models.live_stt()
        if previous is not None and not previous.task.done() and not previous.awaited and previous.key != key:
            previous.aborted = True  # a newer pass matters more: let whisper drop the old one
            if previous.in_worker and worker is not None:
                worker.stop()  # at once, and its core is free for this pass
        stt_threads = self.models.settings.stt_threads
        threads = None if live else final_threads(stt_threads or max(1, (os.cpu_count() or 2) - 1))
        new = Pass(key, live, speech_s, in_worker=live and worker is not None and worker.ready())
        new.task = asyncio.get_running_loop().create_task(self._run(new, audio, threads))
        # A pass nobody awaits (the user went on talking) must not log "exception never retrieved".
        new.task.add_done_callback(lambda task: task.cancelled() or task.exception())
        self._pass = new
        return new

    async def _run(self, this: Pass, audio: np.ndarray, threads: int | None) -> Transcript:
        started = time.perf_counter()
        worker = self.models.live_stt()
        if this.in_worker and worker is not None:
            result = await asyncio.to_thread(worker.transcribe, audio, self.prompt, True, lambda: this.aborted)
        else:
            stt = await asyncio.to_thread(self.models.stt)
            transcribe = functools.partial(stt.transcribe_detailed, prompt=self.prompt, draft=this.live)
            result = await asyncio.to_thread(transcribe, audio, threads, lambda: this.aborted)
        log.debug(
            "voice: %s pass over %.1f s of audio took %.0f ms%s",
            ("live (process)" if this.in_worker else "live") if this.live else "final",
            audio.size / 16_000,
            1000 * (time.perf_counter() - started),
            " (aborted)" if result.aborted else "",
        )
        if this.live and not result.aborted and result.text:
            self._live_heard = (result, this.speech_s)
            self.on_text(result.text)
        return result
