"""Whether a paused utterance is finished: Smart Turn's ear for how it sounded, and the words themselves.

Smart Turn v3 hears prosody; it is right most of the time, but it can take a clause said with a
falling voice ("I went to the shop and") for a finished sentence. The words catch what it misses:
nobody ends a turn on "the", "and" or "if", and whisper marks a voice trailing off with "...". The
reply cannot start before the transcript anyway, so reading it costs no time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from avatar.speech.turn import COMPLETE

# Words a finished sentence does not end on: articles, conjunctions, possessives, subject pronouns, fillers.
# Kept to words that end a sentence almost never ("to", "from", "so" do: "Where are you from?").
DANGLING = frozenset(
    {"a", "an", "the", "and", "or", "but", "nor", "because", "if", "although", "though", "whether", "than"}
    | {"my", "your", "our", "their", "i", "we", "they", "he", "she", "um", "uh", "er", "erm", "maybe"}
)
_TRAILING_OFF = re.compile(r"(\.\.\.|…|[,;:\-–—])\s*$")
_LAST_WORD = re.compile(r"([\w']+)\W*$")


def words_unfinished(text: str) -> bool:
    """Whether a transcript reads as cut off mid-sentence (or whisper heard the voice trail off)."""
    text = text.strip()
    if not text:
        return False  # nothing to read: the sound alone decides
    if _TRAILING_OFF.search(text):
        return True
    match = _LAST_WORD.search(text)
    return match is not None and match.group(1).lower() in DANGLING


@dataclass(frozen=True)
class Verdict:
    probability: float  # Smart Turn's, that the speaker is done
    unfinished_words: bool

    @property
    def complete(self) -> bool:
        return self.probability >= COMPLETE and not self.unfinished_words


def judge(probability: float, transcript: str) -> Verdict:
    return Verdict(probability, words_unfinished(transcript))
