"""The avatar's outgoing audio: 20 ms chunks released in real time, and what the user has actually heard.

FastRTC queues whatever a handler emits and paces it out; emitting a whole sentence at once would
put seconds of audio beyond our reach. Releasing chunks only a little ahead of their play time
(`LEAD_S`) keeps a barge-in able to silence the avatar at once, and gives each chunk a play time,
so the text actually heard can be worked out sentence by sentence when the user interrupts.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

OUTPUT_RATE = 48_000  # Opus runs at 48 kHz: no resampling left for the WebRTC track
CHUNK = OUTPUT_RATE // 50  # 20 ms, FastRTC's and Opus's frame
CHUNK_S = CHUNK / OUTPUT_RATE
LEAD_S = 0.1  # how far ahead of its play time a chunk is handed over (covers event-loop jitter)
PLAYOUT_DELAY_S = 0.05  # network + the browser's jitter buffer: a chunk is heard this long after its slot


@dataclass
class Sentence:
    text: str
    samples: int = 0  # audio length at OUTPUT_RATE (0: silent, e.g. a *roleplay action*)
    synthesized: bool = False


@dataclass
class Released:
    sentence: int
    due: float  # when the chunk starts playing
    samples: int  # real audio in the chunk (the last one of a sentence is padded)
    chunk: np.ndarray  # kept until heard: a hold puts what was not heard yet back in the queue


class Playback:
    """One connection's outgoing audio. A `generation` is one reply; `stop()` starts a new one, dropping the old."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.generation = 0
        self.sentences: list[Sentence] = []
        self._chunks: deque[tuple[int, int, np.ndarray, int]] = deque()  # generation, sentence, chunk, real samples
        self._released: list[Released] = []
        self._available = asyncio.Event()
        self._next_due = 0.0
        self.last_due = 0.0  # when the chunk released last starts playing
        self.held = False  # paused while the user says something that may be only "mm-hmm"
        self.cut_short = False  # the last reply was stopped (a barge-in), not played to its end

    # -- the reply side -------------------------------------------------------------------------
    def begin(self) -> int:
        """Start a new reply (dropping anything still queued) and return its generation."""
        self.generation += 1
        self.held = False
        self.cut_short = False
        self._chunks.clear()
        self._released = []
        self.sentences = []
        return self.generation

    def add_sentence(self, generation: int, text: str) -> int:
        if generation != self.generation:
            return -1
        self.sentences.append(Sentence(text))
        return len(self.sentences) - 1

    def add_audio(self, generation: int, sentence: int, audio: np.ndarray) -> None:
        """Queue float32 mono audio at OUTPUT_RATE for a sentence (empty: the sentence is silent)."""
        if generation != self.generation or sentence < 0:
            return
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        for start in range(0, audio.size, CHUNK):
            piece = audio[start : start + CHUNK]
            real = piece.size
            if real < CHUNK:
                # FastRTC's resampler holds back partial frames until more audio comes: pad instead.
                piece = np.pad(piece, (0, CHUNK - real))
            self._chunks.append((generation, sentence, piece, real))
        self.sentences[sentence].samples += audio.size
        self.sentences[sentence].synthesized = True
        self._available.set()

    # -- the WebRTC side ------------------------------------------------------------------------
    async def next_chunk(self, timeout_s: float) -> tuple[int, np.ndarray] | None:
        """(generation, 20 ms chunk) when it is its time, or None if nothing is due within `timeout_s`."""
        deadline = self.clock() + timeout_s
        while True:
            while not self._chunks:
                self._available.clear()
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._available.wait(), remaining)
                except (asyncio.TimeoutError, TimeoutError):
                    return None
            generation, sentence, chunk, real = self._chunks[0]
            if generation != self.generation:
                self._chunks.popleft()
                continue
            if self.held:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return None
                await asyncio.sleep(min(remaining, CHUNK_S))
                continue
            now = self.clock()
            self._next_due = max(self._next_due, now)  # idle (or starved): this chunk plays now
            wait = self._next_due - LEAD_S - now
            if wait > 0:
                # At most one chunk's time. Then look again: a barge-in may have dropped this chunk.
                await asyncio.sleep(wait)
                continue
            self._chunks.popleft()
            self._released.append(Released(sentence, self._next_due, real, chunk))
            self.last_due = self._next_due
            self._next_due += CHUNK_S
            return generation, chunk

    # -- state ----------------------------------------------------------------------------------
    def queued_s(self) -> float:
        return len(self._chunks) * CHUNK_S

    def busy(self, generation: int | None = None) -> bool:
        """Whether audio (of `generation`, default any) is queued, held or still playing."""
        if generation is not None and generation != self.generation:
            return False
        return bool(self._chunks) or self.clock() < self._next_due + PLAYOUT_DELAY_S

    def sentence_playing(self) -> str:
        """The text of the sentence whose audio was handed over last ("" when none)."""
        if not self._released or self._released[-1].sentence >= len(self.sentences):
            return ""
        return self.sentences[self._released[-1].sentence].text

    def unsent_s(self) -> float:
        """Seconds of audio handed over whose play time has not come: still in the connection's queue, unsent."""
        now = self.clock()
        return sum(CHUNK_S for r in self._released if r.due > now)

    def audible_until(self) -> float:
        """When the last released audio will have been heard (clock time)."""
        return self._next_due + PLAYOUT_DELAY_S

    def heard_samples(self, now: float | None = None) -> list[int]:
        """Samples of each sentence of the current reply the user has heard by `now`."""
        now = self.clock() if now is None else now
        heard = [0] * len(self.sentences)
        for chunk in self._released:
            played = (now - PLAYOUT_DELAY_S - chunk.due) * OUTPUT_RATE
            if played > 0:
                heard[chunk.sentence] += int(min(played, chunk.samples))
        return heard

    def spoken_text(self, now: float | None = None) -> str:
        """The reply's text as far as the user heard it: whole sentences, then the heard share of the next."""
        heard = self.heard_samples(now)
        parts: list[str] = []
        silent: list[str] = []  # silent sentences count once the audio after them has started
        for sentence, got in zip(self.sentences, heard, strict=True):
            if not sentence.synthesized:
                break
            if sentence.samples == 0:
                silent.append(sentence.text)
                continue
            if got == 0:
                break
            parts += silent
            silent = []
            if got >= sentence.samples - CHUNK:
                parts.append(sentence.text)
                continue
            words = sentence.text.split()
            cut = int(len(words) * got / sentence.samples)
            if cut:
                parts.append(" ".join(words[:cut]))
            break
        else:
            parts += silent
        return " ".join(parts)

    def hold(self) -> None:
        """Go quiet now without ending the reply: what was released but not heard yet goes back in the queue."""
        if self.held:
            return
        self.held = True
        now = self.clock()
        unheard = [r for r in self._released if r.due + PLAYOUT_DELAY_S > now]
        self._released = [r for r in self._released if r.due + PLAYOUT_DELAY_S <= now]
        for r in reversed(unheard):
            self._chunks.appendleft((self.generation, r.sentence, r.chunk, r.samples))
        self._next_due = min(self._next_due, now - PLAYOUT_DELAY_S)

    def resume(self) -> None:
        """Carry on where `hold()` stopped."""
        self.held = False
        self._available.set()

    def stop(self) -> str:
        """Silence now: drop the queued audio, start a new generation; returns what was heard of the reply."""
        spoken = self.spoken_text()
        now = self.clock()
        self.held = False
        self.cut_short = True
        self.generation += 1
        self._chunks.clear()
        self._released = []
        self.sentences = []
        self._next_due = min(self._next_due, now - PLAYOUT_DELAY_S)  # nothing is playing any more
        return spoken
