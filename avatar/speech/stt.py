"""Speech-to-text with whisper.cpp (pywhispercpp): one model loaded once, float32 16 kHz audio -> text."""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avatar.core.logging import private
from avatar.speech.audio import SAMPLE_RATE
from avatar.speech.exceptions import SpeechModelError
from avatar.speech.ggml_file import IncompleteModel, check_whole

logger = logging.getLogger(__name__)

# whisper.cpp refuses input under 1 s ("input is too short"); pad short utterances with silence.
_MIN_SAMPLES = int(1.1 * SAMPLE_RATE)
# Whisper "hears" words ("you", "Thank you.") in digital silence; below this RMS (-60 dBFS) skip it.
_SILENCE_RMS = 1e-3
_MIN_AUDIO_CTX = 640  # a word or two: below this tiny.en starts looping
_MIN_AUDIO_CTX_LONG = 448  # from LONG_AUDIO_S of audio on
LONG_AUDIO_S = 1.5
# A short sentence ("How are you today?" with the VAD's 0.3 s before it: 1.2-1.5 s): 20 such in two voices,
# no loops and no word wrong at 512 frames, 144 ms (2 threads) against 183 at 640 (2 words wrong there).
# A word or two ("Yes.", "Okay.") stays under 1.2 s, at 640.
_MIN_AUDIO_CTX_SHORT_SENTENCE = 512
SHORT_SENTENCE_S = 1.2
# A draft (the live transcript while the user talks) is shown and replaced, so under 1.5 s it takes the
# sentences' floor too: one core, 1 s of a question, 214 ms against 309 at 640 frames, the same words. (A live
# pass still running when the user stops holds whisper: the final pass waits for it.) Lower floors are no
# faster in a useful way: at 256 "What is the capital of France?" looped, at 320-384 "Tell me a story." came
# out "I'm a story.".
_DRAFT_MIN_AUDIO_CTX = _MIN_AUDIO_CTX_LONG
GGML_MAGIC = b"lmgg"
# What Whisper writes for non-speech: "[BLANK_AUDIO]", "(music)", "[ Silence ]", "*cough*".
_NON_SPEECH = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")


@dataclass(frozen=True)
class Transcript:
    """What whisper heard, and how sure it was: the geometric mean of its tokens' probabilities (0-1)."""

    text: str
    probability: float
    aborted: bool = False


def clean_transcript(text: str) -> str:
    """A transcript without Whisper's non-speech annotations and extra whitespace."""
    return " ".join(_NON_SPEECH.sub(" ", text).split())


def default_threads() -> int:
    """One core left for the UI and the LLM client: ggml's spinning threads slow down badly when oversubscribed."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def first_sentence_threads() -> int:
    """Threads for the speech a listener is waiting on (a reply's first sentence): every core, up to 4."""
    return max(1, min(4, os.cpu_count() or 1))


def adaptive_audio_ctx(n_samples: int, draft: bool = False) -> int:
    """Encoder frames (50 per second, 1500 = 30 s) enough for `n_samples` plus margin, never below a floor.

    Whisper is trained on 30 s windows; a shorter context makes the encoder several times faster,
    but the shorter it gets the more often tiny.en loops on short words ("Yes. Yes.", "Sure. Sure.
    Sure."): 1 in 4 short words at 384 frames, 1 in 20 at 512, none seen in 36 at 640. Sentences do
    not loop that low, and it is the final transcript the reply waits for. 50 sentences in two voices,
    median time and word error rate: 640 frames 245 ms, 3.1 %; 512: 225 ms, 2.2 %; 448: 202 ms, 2.8 %;
    384: 149 ms, 3.4 %; 320: 138 ms, 8.4 %. At 384 a test's "capital of France" came out "of friends".
    """
    frames = n_samples / SAMPLE_RATE * 50 + 32
    seconds = n_samples / SAMPLE_RATE
    floor = (
        _MIN_AUDIO_CTX_LONG
        if seconds >= LONG_AUDIO_S
        else _MIN_AUDIO_CTX_SHORT_SENTENCE
        if seconds >= SHORT_SENTENCE_S
        else _MIN_AUDIO_CTX
    )
    floor = _DRAFT_MIN_AUDIO_CTX if draft else floor
    return int(min(1500, max(floor, 64 * math.ceil(frames / 64))))


def _is_ggml(path: Path) -> bool:
    """Whether `path` starts as every whisper.cpp model does (the ggml magic, 0x67676d6c little-endian)."""
    with path.open("rb") as file:
        return file.read(4) == GGML_MAGIC


def _loop_period(text: str) -> int:
    """How many words the repeated phrase of a looping transcript has (0: not a loop)."""
    words = re.findall(r"[\w']+", text.lower())
    for period in range(1, len(words) // 2 + 1):
        if words == (words[:period] * (len(words) // period + 1))[: len(words)]:
            return period
    return 0


def looks_looped(text: str) -> bool:
    """Whether a transcript is one phrase said over and over ("Yes. Yes.", "Hi. Hi. Hi."): Whisper looping.
    The token cap may cut the last repeat short ("What is the capital of France? ... What is the")."""
    return _loop_period(text) > 0


# Nobody says more words than this per second of audio: a transcript with more is whisper looping on a phrase
# that drifts ("Tell me they story. Tell me they story. ... Tell me you story. Tell me you" for 1.4 s of
# "Tell me a story.", in the WebRTC bench), which `looks_looped` misses.
MAX_WORDS_PER_SECOND = 6.0


def word_count(text: str) -> int:
    return len(re.findall(r"[\w']+", text))


def too_many_words(text: str, seconds: float) -> bool:
    """Whether `text` has more words than anyone says in `seconds` of audio (two words' slack)."""
    return word_count(text) > MAX_WORDS_PER_SECOND * seconds + 2


def loop_head(text: str) -> str:
    """A looping transcript's phrase, once ("What is the capital of France? What is the" -> the question)."""
    period = _loop_period(text)
    if not period:
        return text
    last_word = list(re.finditer(r"[\w']+", text))[period - 1]
    end = re.match(r"[^\w\s']*", text[last_word.end() :])  # its punctuation too
    return text[: last_word.end() + (end.end() if end else 0)].strip()


# A hum as whisper writes it: "Mm", "Mm-hmm", "Mm-hm-hm-", "Uh-huh", "Hmm", "M" (cut short by the token cap).
_HUM_WORD = re.compile(r"^[.,!?]*(?:[mh]+|u+h+)(?:-(?:[mh]+|u*h+u*h*))*-?[.,!?]*$", re.IGNORECASE)


def hums_trimmed(text: str) -> str:
    """`text` without the hums at its end ("Stop. Mm-hmm. Mm-hmm. Mm-hm. M" -> "Stop."); a text of hums only is one
    hum ("Mm-hm-hm-hm-hm-..." -> "Mm-hmm."). With hums in its prompt (voice/words.HUM_SPELLINGS, for speech over
    the avatar) tiny.en goes on with the prompt's pattern after the words until the token cap."""
    words = text.split()
    kept = list(words)
    while kept and _HUM_WORD.match(kept[-1]):
        kept.pop()
    if kept:
        return " ".join(kept)
    return "" if not words else "Uh-huh." if words[0].lower().startswith("u") else "Mm-hmm."


class WhisperSTT:
    """A whisper.cpp model: a name ("base.en", downloaded into `models_dir` on first use) or a ggml file path.

    Loading is lazy (first `transcribe`/`warmup`) and happens once; transcriptions are serialised
    because a whisper.cpp context is not safe to use from two threads at once.
    `adaptive_context` encodes only as much of the 30 s window as the audio needs (~3x faster on
    short utterances), re-running with the full window when the result looks like a loop. Whisper
    was not trained that way, so it is off unless asked for.
    """

    def __init__(
        self,
        model: str | Path = "base.en",
        models_dir: Path | None = None,
        threads: int | None = None,
        language: str = "en",
        adaptive_context: bool = False,
    ) -> None:
        self.model = str(model)
        self.models_dir = models_dir
        self.threads = max(1, threads) if threads else default_threads()
        self.language = language
        self.adaptive_context = adaptive_context
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model (downloading a named model first if it is not in `models_dir`)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            self._model = self._create()

    def _create(self) -> Any:
        from pywhispercpp.model import Model

        is_path = Path(self.model).suffix == ".bin" or "/" in self.model or "\\" in self.model
        if is_path and not Path(self.model).is_file():
            raise SpeechModelError(f"Speech recognition model file not found: {self.model}")
        if is_path and not _is_ggml(Path(self.model)):
            # whisper.cpp refuses it, but pywhispercpp keeps the null context, and the first pass crashed the app.
            raise SpeechModelError(
                f"{self.model} is not a whisper.cpp model (a ggml .bin file, such as ggml-base.en.bin). "
                "Check --stt-model, or give a model name to download it."
            )
        if is_path:
            try:
                check_whole(Path(self.model))  # whisper.cpp would refuse it too, and the first pass crash the app
            except IncompleteModel as error:
                raise SpeechModelError(
                    f"{self.model} is not a whole whisper.cpp model: {error}. It was cut off while being copied, "
                    "downloaded or converted: make it again, or give a model name to download it."
                ) from error
        if self.models_dir is not None and not is_path:
            self.models_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            model = Model(
                self.model,
                models_dir=str(self.models_dir) if self.models_dir and not is_path else None,
                n_threads=self.threads,
                language=self.language,
                print_progress=False,
                print_realtime=False,
                print_timestamps=False,
                # One utterance per call: no carried-over prompt, one segment, no timestamp tokens.
                no_context=True,
                single_segment=True,
                no_timestamps=True,
                suppress_blank=True,
                suppress_nst=True,
                # No temperature fallback: when a pass looks unsure or repetitive, whisper.cpp decodes it again at
                # rising temperatures, five candidates each time, while the listener waits. On clean speech it never
                # changed a word here (46 utterances, two voices); on speech under loud echo it made other guesses,
                # no better, and took longer: p90 491 -> 406 ms, worst 634 -> 494 (tiny.en, 2 threads). Loops and
                # unsure passes are handled after the pass instead (loop_head, the full window, heard_words).
                temperature_inc=0.0,
                # whisper.cpp's fused attention (its default; said here should that change): a pass over 1.7 s of
                # speech 356 ms instead of 398 (medians of 12, tiny.en q8_0, 2 threads, this 2-core machine), the
                # same words on 66 test utterances; it loops a little more often (2 of 20 questions spoken in
                # Chromium, 0 of 20 without), which now costs nothing (see transcribe_detailed).
                context_params={"flash_attn": True},
            )
        except Exception as error:  # download failures, corrupt files: say which model
            raise SpeechModelError(f"Could not load the speech recognition model '{self.model}': {error}") from error
        if getattr(model, "model_path", None) is None:
            # pywhispercpp logs and returns None for unknown names instead of raising.
            raise SpeechModelError(f"Unknown speech recognition model '{self.model}'.")
        logger.info("whisper.cpp model %s loaded in %.1f s", self.model, time.perf_counter() - started)
        return model

    def transcribe(self, audio: np.ndarray) -> str:
        """Text spoken in float32 mono 16 kHz audio ("" for silence or empty input)."""
        return self.transcribe_detailed(audio).text

    def transcribe_detailed(
        self,
        audio: np.ndarray,
        threads: int | None = None,
        abort: Callable[[], bool] | None = None,
        prompt: str = "",
        draft: bool = False,
    ) -> Transcript:
        """`transcribe` with whisper's confidence; `threads` for this call only; `abort()` True stops early
        (a live transcript giving way to the final one): the result is then marked aborted. `prompt`: text
        as if said just before (the names in the call), which whisper then spells as written there.
        `draft`: a quick pass (a shorter context; when it loops, its phrase once even if that is long for the audio)."""
        audio = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(-1))
        if audio.size == 0 or float(np.sqrt(np.mean(np.square(audio)))) < _SILENCE_RMS:
            return Transcript("", 0.0)
        if audio.size < _MIN_SAMPLES:
            audio = np.pad(audio, (0, _MIN_SAMPLES - audio.size))
        self.load()
        started = time.perf_counter()
        seconds = audio.size / SAMPLE_RATE
        audio_ctx = adaptive_audio_ctx(audio.size, draft) if self.adaptive_context else 0
        result = self._decode(audio, audio_ctx, threads, abort, prompt)
        looped = looks_looped(result.text)
        if looped and (draft or not too_many_words(loop_head(result.text), seconds)):
            # Whisper said the phrase, then did not stop ("What is the capital of France? What is the capital of
            # France? ..." in 2 of 20 questions spoken in Chromium): the phrase once. The full window's pass gets
            # it right too, but took 2 s more here, on the answer's path. (A draft is only shown: its phrase once
            # however long it is.)
            result = Transcript(loop_head(result.text), result.probability, result.aborted)
        elif too_many_words(result.text, seconds) and not too_many_words(trimmed := hums_trimmed(result.text), seconds):
            # Hums after the words, the prompt's pattern going on: the words are right, and the full window (~2 s
            # here for a 1 s "Mm-hmm." while the avatar waited, held) says the same.
            result = Transcript(trimmed, result.probability, result.aborted)
        elif self.adaptive_context and not result.aborted and (looped or too_many_words(result.text, seconds)):
            # A loop that drifts ("Tell me they story. Tell me you story...") has no phrase to keep: the short
            # context's known failure, which the full window gets right.
            logger.debug("short context looped or ran on (%s): decoding the full window", private(result.text))
            result = self._decode(audio, 0, threads, abort, prompt)
        logger.debug(
            "transcribed %.1f s of audio in %.2f s (p=%.2f): %s",
            seconds,
            time.perf_counter() - started,
            result.probability,
            private(result.text),
        )
        return result

    def _decode(
        self,
        audio: np.ndarray,
        audio_ctx: int,
        threads: int | None = None,
        abort: Callable[[], bool] | None = None,
        prompt: str = "",
    ) -> Transcript:
        # Speech is < 8 tokens/s; the cap stops a looping decode ("you you you ...") from running for seconds.
        max_tokens = int(8 * audio.size / SAMPLE_RATE) + 16
        aborted = False

        def stop() -> bool:
            nonlocal aborted
            aborted = aborted or bool(abort and abort())
            return aborted

        with self._lock:
            segments = self._model.transcribe(
                audio,
                audio_ctx=audio_ctx,
                max_tokens=max_tokens,
                n_threads=threads or self.threads,
                abort_callback=stop if abort is not None else None,
                extract_probability=True,
                initial_prompt=prompt,  # always given: pywhispercpp keeps a parameter set once for later calls
            )
        text = clean_transcript(" ".join(segment.text for segment in segments))
        probabilities = [s.probability for s in segments if s.text.strip() and not math.isnan(s.probability)]
        return Transcript(text, float(np.mean(probabilities)) if probabilities else 0.0, aborted)

    def warmup(self) -> None:
        """Load the model and run it once so the first real utterance does not pay for allocation."""
        self.load()
        with self._lock:  # straight to the model: transcribe() would skip silence without running it
            self._model.transcribe(np.zeros(_MIN_SAMPLES, dtype=np.float32))
