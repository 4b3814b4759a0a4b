"""A labelled set of spoken turns in two voices (the packaged Piper voice and Debian's espeak-ng), for tests and bench.

complete questions, sentences broken by a thinking pause after an unfinished first half, backchannels
and real interruptions. Each utterance is made once per run and kept as .npy under the run's temp dir;
audio is float32 mono 16 kHz, trimmed to the speech.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from avatar.speech.audio import SAMPLE_RATE, to_mono_16k
from avatar.speech.tts import PiperTTS

COMPLETE = [
    "What is the capital of France?",
    "Tell me a joke about cats.",
    "How are you today?",
    "Where do penguins live?",
    "What should I cook for dinner tonight?",
    "Please tell me about the moon.",
    "Who wrote Romeo and Juliet?",
    "I went to the shop yesterday.",
    "What time is it in Tokyo?",
    "Could you tell me what the weather will be like tomorrow afternoon?",
]
# (first half, rest): a person stops to think after the first half.
UNFINISHED = [
    ("I would like to", "order a large pizza."),
    ("So what I was thinking is", "we could go hiking tomorrow."),
    ("My favourite colour is, um", "probably green."),
    ("I was wondering if", "you could help me."),
    ("Because", "I really need some advice."),
    ("I went to the shop and", "bought some apples."),
    ("Can you tell me about the", "history of Rome?"),
    ("Yesterday my sister and I", "went to the beach."),
    ("What I really want to know is", "how tall the tower is."),
    ("And then we", "walked home together."),
]
BACKCHANNELS = ["Mm-hmm.", "Yeah.", "Okay.", "Right.", "Uh-huh."]
INTERRUPTIONS = ["Wait, stop for a moment.", "Hold on, that is not what I asked.", "Sorry, can I ask something else?"]


def trim(audio: np.ndarray, level: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > level)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


class SteadyPiper(PiperTTS):
    """The packaged voice without Piper's random variation, for the tests' speech: a sentence sounds the same on every
    run. (Piper draws new noise for each rendering, and now and then one rendering failed a test that the next run
    passed: "Stop please." heard as "Start please.", an echo's syllable left by AEC3.) The benches keep the variation:
    they measure over many renderings."""

    def _syn_config(self, length_scale: float | None) -> Any:
        return replace(super()._syn_config(length_scale), noise_scale=0.0, noise_w_scale=0.0)


class Voices:
    """The two voices, each utterance synthesized once and cached in `cache_dir`."""

    NAMES = ("piper", "espeak")

    def __init__(self, tts: PiperTTS, cache_dir: Path) -> None:
        self.tts = tts
        self.cache_dir = cache_dir
        cache_dir.mkdir(parents=True, exist_ok=True)

    def say(self, voice: str, text: str) -> np.ndarray:
        digest = hashlib.sha1(f"{voice}:{text}".encode()).hexdigest()[:16]
        path = self.cache_dir / f"{voice}-{digest}.npy"
        if path.is_file():
            return np.load(path)
        audio = trim(self._piper(text) if voice == "piper" else self._espeak(text))
        np.save(path, audio)
        return audio

    def _piper(self, text: str) -> np.ndarray:
        rate, audio = self.tts.synthesize(text)
        return to_mono_16k(audio, rate)

    @staticmethod
    def _espeak(text: str) -> np.ndarray:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise RuntimeError("espeak-ng is not installed: apt-get install espeak-ng (the tests' second voice)")
        out = subprocess.run([binary, "-v", "en-us", "--stdout", text], capture_output=True, check=True).stdout
        with wave.open(io.BytesIO(out)) as wav:
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).astype(np.float32) / 32768
            return to_mono_16k(pcm * 0.8, wav.getframerate())

    # -- the labelled utterances ----------------------------------------------------------------
    def unfinished(self, voice: str, first: str, rest: str, pause_s: float) -> tuple[np.ndarray, float]:
        """The first half, a thinking pause, the rest; and where (s) the pause starts."""
        head = self.say(voice, first)
        return np.concatenate([head, silence(pause_s), self.say(voice, rest)]), head.size / SAMPLE_RATE
