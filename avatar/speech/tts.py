"""Text-to-speech with Piper: load a voice once, synthesize text or a stream of text into audio."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from avatar.core.logging import private
from avatar.speech.audio import to_int16
from avatar.speech.exceptions import SpeechModelError
from avatar.speech.sentences import speakable, split_sentences

logger = logging.getLogger(__name__)

Audio = tuple[int, np.ndarray]  # (sample rate, mono samples), the shape Gradio and FastRTC use


class PiperTTS:
    """A Piper voice (an .onnx file with its .onnx.json beside it). Thread-safe; loads on first use.

    length_scale sets the speaking rate: < 1 is faster, > 1 slower (None: the voice's own default).
    `threads`: ONNX Runtime threads for ordinary sentences. `first_threads`, when more: a second session of
    the same voice with that many threads, for the sentence a listener is waiting on (`urgent=True`, a
    reply's first). While it plays the model has time to spare for the next, so the cores are better spent
    on it: on 2 cores, 63 ms for a short sentence against 95 on one thread; 70-90 against ~100 in the app.
    """

    def __init__(
        self,
        voice_path: Path,
        config_path: Path | None = None,
        length_scale: float | None = None,
        speaker_id: int | None = None,
        threads: int | None = None,
        first_threads: int | None = None,
    ) -> None:
        self.voice_path = Path(voice_path)
        self.config_path = Path(config_path) if config_path else Path(f"{voice_path}.json")
        self.length_scale = length_scale
        self.speaker_id = speaker_id
        self.threads = threads
        self.first_threads = first_threads if first_threads and first_threads > (threads or 0) else None
        self._voice: Any = None
        self._urgent_voice: Any = None  # the `first_threads` session (None: the ordinary one serves)
        self._lock = threading.Lock()

    def load(self) -> None:
        if self._voice is not None:
            return
        with self._lock:
            if self._voice is None:
                if self.first_threads:
                    self._urgent_voice = self._create(self.first_threads, spin=False)
                self._voice = self._create(self.threads)

    def _create(self, threads: int | None, spin: bool = True) -> Any:
        for path in (self.voice_path, self.config_path):
            if not path.is_file():
                raise SpeechModelError(f"Voice file not found: {path}. Pick another voice for this character.")
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        started = time.perf_counter()
        options = onnxruntime.SessionOptions()
        if threads:
            # Piper would take every core; on small machines whisper and the LLM need some too.
            options.intra_op_num_threads = threads
        if not spin:
            # Its threads sleep between runs at once: spinning on, the first sentence took 81-158 ms in the app
            # (median ~120) where it takes 70-90 without, and the next sentence's single thread lost 20 ms to it.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            config = PiperConfig.from_dict(json.loads(self.config_path.read_text(encoding="utf-8")))
            session = onnxruntime.InferenceSession(
                str(self.voice_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise SpeechModelError(f"Could not load the voice {self.voice_path.name}: {error}") from error
        logger.info(
            "Piper voice %s loaded (%s threads) in %.1f s", self.voice_path.name, threads, time.perf_counter() - started
        )
        return PiperVoice(session=session, config=config)

    @property
    def sample_rate(self) -> int:
        self.load()
        return int(self._voice.config.sample_rate)

    def _syn_config(self, length_scale: float | None) -> Any:
        from piper.config import SynthesisConfig

        return SynthesisConfig(
            speaker_id=self.speaker_id,
            length_scale=length_scale if length_scale is not None else self.length_scale,
        )

    def stream(self, text: str, length_scale: float | None = None, urgent: bool = False) -> Iterator[Audio]:
        """Float32 audio per sentence of `text` (Piper splits sentences itself), first one as soon as it is ready.
        `urgent`: someone is waiting for it (the `first_threads` session, if there is one)."""
        self.load()
        if not text.strip():
            return
        voice = (self._urgent_voice if urgent else None) or self._voice
        for chunk in voice.synthesize(text, syn_config=self._syn_config(length_scale)):
            if chunk.audio_float_array.size:
                yield chunk.sample_rate, chunk.audio_float_array

    def synthesize(
        self, text: str, length_scale: float | None = None, as_int16: bool = False, urgent: bool = False
    ) -> Audio:
        """All of `text` as one (sample_rate, mono float32 in [-1, 1] or int16) array; empty for empty text."""
        started = time.perf_counter()
        parts = [samples for _, samples in self.stream(text, length_scale, urgent)]
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        logger.debug("synthesized %s in %.0f ms", private(text), 1000 * (time.perf_counter() - started))
        return self.sample_rate, to_int16(audio) if as_int16 else audio

    async def speak(
        self, pieces: AsyncIterable[str], length_scale: float | None = None, as_int16: bool = False
    ) -> AsyncIterator[Audio]:
        """Audio for a stream of reply text: each sentence is spoken as soon as the stream completes it.

        Text goes through `speakable()` first, so *actions* and markdown are not read aloud.
        Synthesis runs in a worker thread so the event loop (and the UI) stays responsive.
        """
        urgent = True
        async for sentence in split_sentences(pieces):
            text = speakable(sentence)
            if not text:
                continue
            rate, audio = await asyncio.to_thread(self.synthesize, text, length_scale, as_int16, urgent)
            urgent = False
            if audio.size:
                yield rate, audio

    def warmup(self) -> None:
        """Load the voice and synthesize a word (on each session), so the first reply does not pay for it."""
        self.synthesize("Hello.")
        if self._urgent_voice is not None:
            self.synthesize("Hello.", urgent=True)
